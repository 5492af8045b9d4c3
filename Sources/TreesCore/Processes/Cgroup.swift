#if canImport(Glibc)
import Glibc
#endif

/// A cgroup v2 hierarchy, for `trees exec --cgroup`: the job runs in a
/// cgroup of its own, `PARENT/trees-TAG-NAME@REV-ID`, so that descendants which
/// double-fork, leave the tree and clear their environment are still
/// attributed to the tree (the scanner reads `/proc/PID/cgroup`), and
/// `cgroup.events` (`populated 0`) tells `trees wait` when the group empties.
///
/// Cgroup paths are kept as the kernel shows them in `/proc/PID/cgroup`:
/// relative to the mount, starting with `/` (`/` is the hierarchy's root).
public struct Cgroup: Sendable {
    /// Where the cgroup2 filesystem is mounted, e.g. `/sys/fs/cgroup`, or
    /// `/sys/fs/cgroup/unified` in a hybrid layout.
    public let mountPoint: String

    /// Every job cgroup's name starts with this.
    public static let namePrefix = "trees-"
    /// Where the parent of job cgroups may be configured when `--cgroup-parent` is not given.
    public static let parentEnvironmentKey = "TREES_CGROUP_PARENT"

    public init(mountPoint: String) {
        var point = mountPoint
        while point.count > 1 && point.hasSuffix("/") { point.removeLast() }
        self.mountPoint = point
    }

    /// The cgroup2 mount of the hierarchy's root from `PROC/self/mountinfo`,
    /// nil when there is none (a cgroup v1-only host, a container without it).
    public static func find(procRoot: String = "/proc") -> Cgroup? {
        guard let info = try? PseudoFile.read(procRoot + "/self/mountinfo") else { return nil }
        return mountPoint(inMountInfo: info).map(Cgroup.init(mountPoint:))
    }

    /// The first cgroup2 mount whose root is the hierarchy's root (a bind
    /// mount of a subtree would not match the paths of `/proc/PID/cgroup`).
    static func mountPoint(inMountInfo info: [UInt8]) -> String? {
        MountInfoEntry.parse(info).first { $0.fileSystemType == "cgroup2" && $0.root == "/" }?.mountPoint
    }

    // MARK: - Paths

    /// The absolute path of a cgroup path (`/a/b` → `MOUNT/a/b`).
    public func absolutePath(_ cgroup: String) -> String {
        cgroup == "/" ? mountPoint : mountPoint + cgroup
    }

    /// A parent as a user spells it: relative to the mount (`trees`,
    /// `/system.slice/jobs.slice`, as `/proc/self/cgroup` shows it) or an
    /// absolute path under the mount (`/sys/fs/cgroup/trees`). Returns the
    /// cgroup path (`/trees`); `.` and `..` are refused, so it never leaves
    /// the hierarchy.
    public func normalize(_ spelled: String) throws -> String {
        var rest = spelled
        if rest == mountPoint {
            rest = "/"
        } else if rest.hasPrefix(mountPoint + "/") {
            rest = String(rest.dropFirst(mountPoint.count))
        }
        let components = rest.split(separator: "/", omittingEmptySubsequences: true)
        for c in components where c == "." || c == ".." || c.contains("\n") || c.contains("\0") {
            throw TreesError(.usage, "invalid cgroup parent \(quoted(spelled)): '.', '..' and newlines are not allowed",
                             hint: "Give a path relative to \(mountPoint), or an absolute path under it.")
        }
        let cgroup = "/" + components.joined(separator: "/")
        // `/sys/fs/cgroup/cpu` on a hybrid host is a v1 hierarchy, not a path under the v2 mount.
        var st = stat()
        if spelled.hasPrefix("/"), rest == spelled, lstat(absolutePath(cgroup), &st) != 0, lstat(spelled, &st) == 0 {
            throw TreesError(.failure, "--cgroup: \(spelled) is not in the cgroup v2 hierarchy mounted at \(mountPoint)",
                             hint: "Give a parent under \(mountPoint) with --cgroup-parent.")
        }
        return cgroup
    }

    /// The cgroup v2 path of a process from the text of `/proc/PID/cgroup`
    /// (its `0::/path` line), nil when it has none.
    static func v2Path(inProcCgroup text: [UInt8]) -> ArraySlice<UInt8>? {
        let key = Array("0::".utf8)
        return ProcBytes.line(startingWith: key, in: text[...])?.dropFirst(key.count)
    }

    /// The calling process's own cgroup, e.g. `/user.slice/session-1.scope`.
    public static func ownCgroup(procRoot: String = "/proc") -> String? {
        guard let text = try? PseudoFile.read(procRoot + "/self/cgroup"),
              let path = v2Path(inProcCgroup: text), path.first == ProcBytes.slash else { return nil }
        return String(decoding: path, as: UTF8.self)
    }

    // MARK: - Job cgroup names

    /// `trees-TAG-NAME@REV-ID`, where TAG (16 hex digits, `rootTag(of:)`)
    /// stands for the root's device and inode, so that a job cgroup counts
    /// only for the root whose `trees exec` made it.
    public static func jobName(_ tree: TreeRef, rootTag: String?, id: String) -> String {
        "\(namePrefix)\(rootTag.map { $0 + "-" } ?? "")\(tree.name.value)@\(tree.rev.value)-\(id)"
    }

    /// The untagged name of earlier versions, `trees-NAME@REV-ID`.
    public static func jobName(_ tree: TreeRef, id: String) -> String { jobName(tree, rootTag: nil, id: id) }

    /// The tag of a root: FNV-1a (64 bits) of its device and inode, in hex.
    /// Short and fixed in length, so a cgroup name stays within NAME_MAX.
    static func rootTag(of root: FileIdentity) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in Array("\(root.device):\(root.inode)".utf8) {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The tag of the root open at `root`, nil when `fstat(2)` fails.
    public static func rootTag(of root: Root) -> String? {
        FileIdentity(fd: root.dir.fd).map(rootTag(of:))
    }

    /// The root tag (nil for an untagged name) and tree a job cgroup's name
    /// (one path component) stands for; nil when it is not
    /// `trees-[TAG-]NAME@REV-ID` with a valid NAME and REV and an
    /// alphanumeric ID. REV may hold `-`, so the ID is split off at the last `-`.
    static func parseJobName(_ component: some StringProtocol) -> (rootTag: String?, tree: TreeRef)? {
        guard component.hasPrefix(namePrefix) else { return nil }
        var body = Substring(component.dropFirst(namePrefix.count))
        var tag: String?
        let hexDigits = body.prefix(17)
        if hexDigits.count == 17, hexDigits.last == "-",
           hexDigits.dropLast().utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) {
            tag = String(hexDigits.dropLast())
            body = body.dropFirst(17)
        }
        guard let at = body.firstIndex(of: "@"), let dash = body.lastIndex(of: "-"), at < dash else { return nil }
        let id = body[body.index(after: dash)...]
        guard !id.isEmpty, id.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7a) }) else { return nil }
        let nameText = String(body[..<at]), revText = String(body[body.index(after: at)..<dash])
        guard TreeName.isValid(nameText), Rev.isValid(revText),
              let name = try? TreeName(nameText), let rev = try? Rev(revText) else { return nil }
        return (tag, TreeRef(name: name, rev: rev))
    }

    /// The tree a job cgroup's name stands for, whatever root it names.
    public static func tree(ofJobName component: some StringProtocol) -> TreeRef? {
        parseJobName(component)?.tree
    }

    /// The tree whose job cgroup a process is in, from the text of its
    /// `/proc/PID/cgroup` (the last component of the `0::` path), when the
    /// name's tag is `rootTag`: another root's job cgroup of the same
    /// NAME@REV does not count here. An untagged name (made by a version
    /// before tags) names no root and counts for every root, erring towards
    /// keeping a tree; it goes away with its job.
    static func tree(inProcCgroup text: [UInt8], rootTag: String?) -> TreeRef? {
        guard let path = v2Path(inProcCgroup: text) else { return nil }
        let last = path.split(separator: ProcBytes.slash).last ?? []
        guard last.starts(with: namePrefix.utf8), let parsed = parseJobName(String(decoding: last, as: UTF8.self)),
              parsed.rootTag == nil || parsed.rootTag == rootTag else { return nil }
        return parsed.tree
    }

    // MARK: - Creating and removing job cgroups

    /// Resolves the parent of job cgroups: `option` (from `--cgroup-parent`
    /// or the caller's `Settings.cgroupParent`), else the caller's own cgroup.
    public func parent(option: String?, procRoot: String = "/proc") throws -> String {
        if let option, !option.isEmpty { return try normalize(option) }
        guard let own = Cgroup.ownCgroup(procRoot: procRoot) else {
            throw TreesError(.failure, "--cgroup: cannot tell this process's cgroup v2 path from \(procRoot)/self/cgroup",
                             hint: "Give the parent with --cgroup-parent or \(Cgroup.parentEnvironmentKey).")
        }
        return try normalize(own)
    }

    /// Creates `PARENT/trees-TAG-NAME@REV-ID` (see `jobName`). Returns its cgroup path.
    /// - Throws: `.failure` (exit 1) naming the path and errno when the
    ///   parent is missing, not cgroup v2, or not writable.
    public func createJobCgroup(parent: String, tree: TreeRef, rootTag: String?, id: String) throws -> String {
        let parentPath = absolutePath(parent)
        switch contains(parentPath) {
        case .failure(let failure):
            let err = failure.rawValue
            throw TreesError(.failure, "--cgroup: cannot use cgroup parent \(parentPath)", errno: Errno(err),
                             hint: err == ENOENT ? "Create it first, or give another with --cgroup-parent or \(Cgroup.parentEnvironmentKey)." : nil)
        case .success(false):
            throw TreesError(.failure, "--cgroup: \(parentPath) is not in a cgroup v2 hierarchy",
                             hint: "Give a parent under \(mountPoint) with --cgroup-parent.")
        case .success(true):
            break
        }
        let cgroup = (parent == "/" ? "" : parent) + "/" + Cgroup.jobName(tree, rootTag: rootTag, id: id)
        let path = absolutePath(cgroup)
        if retryingEINTR({ mkdir(path, 0o755) }) != 0 {
            let err = errno
            throw TreesError(.failure, "--cgroup: cannot create cgroup \(path)", errno: Errno(err), hint: Cgroup.hint(for: err))
        }
        return cgroup
    }

    /// Moves process `pid` (all its threads) into `cgroup` by writing it to `cgroup.procs`.
    public func move(_ pid: Int32, into cgroup: String) throws {
        let file = absolutePath(cgroup) + "/cgroup.procs"
        let fd = retryingEINTR { open(file, O_WRONLY | O_CLOEXEC) }
        guard fd >= 0 else {
            let err = errno
            throw TreesError(.failure, "--cgroup: cannot open \(file)", errno: Errno(err), hint: Cgroup.hint(for: err))
        }
        defer { close(fd) }
        let text = Array("\(pid)\n".utf8)
        if retryingEINTR({ write(fd, text, text.count) }) < 0 {
            let err = errno
            throw TreesError(.failure, "--cgroup: cannot move process \(pid) into \(file)", errno: Errno(err), hint: Cgroup.hint(for: err))
        }
    }

    private static func hint(for err: Int32) -> String {
        switch err {
        case EACCES, EPERM, EROFS:
            return "--cgroup needs a writable cgroup v2 hierarchy: run as root, delegate the parent cgroup to this user, or drop --cgroup."
        case EBUSY:
            return "The parent's subtree_control enables controllers, or its type forbids processes in children (cgroup v2's no-internal-processes rule); choose another --cgroup-parent."
        default:
            return "--cgroup needs a writable cgroup v2 hierarchy; choose another --cgroup-parent or drop --cgroup."
        }
    }

    /// Whether `path` is a directory on this cgroup2 mount (the same device
    /// as the mount point), or the errno of `lstat(2)`.
    private func contains(_ path: String) -> Result<Bool, Errno> {
        var mount = stat(), here = stat()
        guard lstat(path, &here) == 0 else { return .failure(.current) }
        guard stat(mountPoint, &mount) == 0 else { return .failure(.current) }
        return .success(here.st_mode & S_IFMT == S_IFDIR && here.st_dev == mount.st_dev)
    }

    /// The cgroup v2 path of process `pid` (`/a/b`), nil when it cannot be read.
    public static func cgroup(of pid: Int32, procRoot: String = "/proc") -> String? {
        guard let text = try? PseudoFile.read("\(procRoot)/\(pid)/cgroup"),
              let path = v2Path(inProcCgroup: text), path.first == ProcBytes.slash else { return nil }
        return String(decoding: path, as: UTF8.self)
    }

    /// The processes directly in `cgroup` (its `cgroup.procs`); empty when it cannot be read.
    public func processIDs(in cgroup: String) -> [Int32] {
        guard let text = try? PseudoFile.read(absolutePath(cgroup) + "/cgroup.procs") else { return [] }
        return text.split(separator: ProcBytes.newline).compactMap { Int32(String(decoding: $0, as: UTF8.self)) }
    }

    /// Kills every process in `cgroup` and below in one step by writing `1`
    /// to its `cgroup.kill` (Linux 5.14+): a process forking while it runs
    /// cannot leave a child behind. Only for a job cgroup of this root
    /// (`isJobCgroup(_:rootTag:)`). Returns nil, or the errno of `open` or `write`.
    public func killAll(_ cgroup: String) -> Errno? {
        let fd = retryingEINTR { open(absolutePath(cgroup) + "/cgroup.kill", O_WRONLY | O_CLOEXEC | O_NOFOLLOW) }
        guard fd >= 0 else { return .current }
        defer { close(fd) }
        let one: [UInt8] = [UInt8(ascii: "1")]
        return retryingEINTR({ write(fd, one, 1) }) == 1 ? nil : .current
    }

    /// Whether `cgroup` (a path `validJobCgroup` accepted) was made by a
    /// `trees exec` of the root tagged `rootTag` (or by one from before tags).
    public static func isJobCgroup(_ cgroup: String, rootTag: String?) -> Bool {
        guard let last = cgroup.split(separator: "/").last, let parsed = parseJobName(last) else { return false }
        return parsed.rootTag == nil || parsed.rootTag == rootTag
    }

    /// Whether `cgroup` (or a descendant) holds a process, from its
    /// `cgroup.events`; nil when that cannot be read (e.g. it is gone).
    public func isPopulated(_ cgroup: String) -> Bool? {
        guard let text = try? PseudoFile.read(absolutePath(cgroup) + "/cgroup.events") else { return nil }
        return Cgroup.populated(inEvents: text)
    }

    /// The `populated` value of a `cgroup.events` text.
    static func populated(inEvents text: [UInt8]) -> Bool? {
        let key = Array("populated ".utf8)
        guard let line = text.split(separator: ProcBytes.newline).first(where: { $0.starts(with: key) }) else { return nil }
        return line.dropFirst(key.count).first != UInt8(ascii: "0")
    }

    /// Removes `cgroup` if it is empty: nothing in it, no child cgroups.
    /// Returns false when it still exists afterwards.
    @discardableResult
    public func removeIfEmpty(_ cgroup: String) -> Bool {
        let path = absolutePath(cgroup)
        // Never rmdir anything but a directory of this cgroup2 mount.
        switch contains(path) {
        case .failure(let err): return err == .noSuchFileOrDirectory
        case .success(false): return false
        case .success(true): if cgroup == "/" { return false }
        }
        guard isPopulated(cgroup) == false else { return false }
        if retryingEINTR({ rmdir(path) }) == 0 { return true }
        return errno == ENOENT
    }

    /// `cgroup` (recorded for a job of `tree`) if it is one that `trees exec`
    /// could have made: absolute, no `.`, `..` or empty components, and
    /// ending in a job cgroup name of that very tree. The database is a
    /// record, not a capability: a tampered row aims nothing elsewhere.
    static func validJobCgroup(_ cgroup: String?, for tree: TreeRef) -> String? {
        guard let cgroup, cgroup.hasPrefix("/"), !cgroup.contains("\n"), !cgroup.contains("\0") else { return nil }
        let components = cgroup.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        guard let last = components.last, !components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }),
              self.tree(ofJobName: last) == tree else { return nil }
        return cgroup
    }

    /// Removes each job cgroup (by id, a path `validJobCgroup` accepted)
    /// that is empty (`populated 0` in its `cgroup.events`); one that is busy
    /// or already gone is left alone. Returns the ids whose cgroup still
    /// holds processes.
    static func removeEmpty(_ jobs: [(id: String, cgroup: String)], procRoot: String = "/proc") -> Set<String> {
        guard !jobs.isEmpty, let hierarchy = Cgroup.find(procRoot: procRoot) else { return [] }
        var busy: Set<String> = []
        for (id, cgroup) in jobs where !hierarchy.removeIfEmpty(cgroup) {
            if hierarchy.isPopulated(cgroup) == true { busy.insert(id) }
        }
        return busy
    }
}
