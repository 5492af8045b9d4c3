#if canImport(Glibc)
import Glibc
#endif

/// The directory holding everything: `ROOT/.trees/state.db`, staging, trash
/// and one directory per name. Default `/srv/trees`.
public final class Root: Sendable {
    public static let defaultPath = "/srv/trees"

    /// The canonical absolute path (symlinks resolved), so that paths read
    /// from /proc, which are always canonical, can be matched against it.
    public let path: String
    let dir: Directory
    let meta: Directory
    /// What the caller decided (lock timeout, vouched-for pids, cgroup parent).
    public let settings: Settings

    init(path: String, dir: Directory, meta: Directory, settings: Settings) {
        self.path = path
        self.dir = dir
        self.meta = meta
        self.settings = settings
    }

    /// Opens an existing root, or returns nil when there is none yet.
    ///
    /// A supervisor starts here: `Root.openExisting(path)`, then `openStore()`.
    /// - Parameters:
    ///   - location: the root's path; a symlink to it is resolved once
    ///     (with `realpath(3)`), so that /proc paths, always canonical, match it.
    ///   - settings: the lock timeout and the rest of what the caller decided.
    /// - Throws: a system error (exit 1) when the path cannot be resolved or opened.
    public static func openExisting(_ location: String, settings: Settings = Settings()) throws -> Root? {
        guard let canonical = canonicalPath(location) else {
            let err = errno
            if err == ENOENT { return nil }
            throw TreesError.system("cannot resolve root", location, errno: err)
        }
        let dir = try Directory.open(canonical)
        guard let meta = try dir.openDirectoryIfPresent(".trees") else { return nil }
        return Root(path: canonical, dir: dir, meta: meta, settings: settings)
    }

    /// Opens a root, creating it, `.trees/`, staging and trash if missing.
    /// - Throws: a system error naming the path and errno (`mkdir`, `openat`).
    public static func create(_ location: String, settings: Settings = Settings()) throws -> Root {
        guard location.hasPrefix("/") || canonicalPath(location) != nil || !location.isEmpty else {
            throw TreesError(.usage, "empty root path")
        }
        try makeDirectories(location)
        guard let canonical = canonicalPath(location) else {
            throw TreesError.system("cannot resolve root", location, errno: errno)
        }
        let dir = try Directory.open(canonical)
        try dir.makeDirectory(".trees", existingOK: true)
        let meta = try dir.openDirectory(".trees")
        try meta.makeDirectory("staging", mode: 0o700, existingOK: true)
        try meta.makeDirectory("trash", mode: 0o700, existingOK: true)
        let root = Root(path: canonical, dir: dir, meta: meta, settings: settings)
        // Lock files exist from the start, so later commands (a gc --dry-run
        // above all) take their locks without writing anything new.
        for lock in RootLock.allCases { _ = try lock.open(in: meta) }
        _ = try root.leasesDirectory(create: true)
        return root
    }

    /// `ROOT/NAME/REV`, for display and for /proc matching; never acted on
    /// directly: file work goes through descriptors.
    public func treePath(_ ref: TreeRef) -> String { "\(path)/\(ref.name)/\(ref.rev)" }

    public var databasePath: String { "\(path)/.trees/state.db" }

    /// `ROOT/NAME/shared`: the shared writable paths of NAME, outside every
    /// tree (`trees shared`), exported to jobs as `TREES_SHARED`.
    public func sharedPath(_ name: TreeName) -> String { "\(path)/\(name)/shared" }

    func staging() throws -> Directory { try meta.openDirectory("staging") }
    func trash() throws -> Directory { try meta.openDirectory("trash") }

    /// Opens `ROOT/NAME` as a real directory (not a symlink), or nil if absent.
    func nameDirectory(_ name: TreeName, create: Bool = false) throws -> Directory? {
        if create { try dir.makeDirectory(name.value, existingOK: true) }
        do {
            return try dir.openDirectory(name.value)
        } catch let e as TreesError where e.errno == .noSuchFileOrDirectory {
            return nil
        } catch let e as TreesError where e.errno == .tooManySymbolicLinks || e.errno == .notDirectory {
            throw TreesError(.failure, "\(path)/\(name) is not a real directory",
                             hint: "trees only acts on real directories under the root; move the symlink or file away.")
        }
    }

    /// The owner of `ROOT/.trees`: the operator. Only the operator (or root)
    /// changes records others rely on: pins, leases of other processes.
    public var operatorUID: uid_t? {
        var st = stat()
        return fstat(meta.fd, &st) == 0 ? st.st_uid : nil
    }

    /// The group that may hold trees alive: the group of `ROOT/.trees`, set
    /// by the operator (`chgrp jobs ROOT/.trees`). Its members may open the
    /// per-tree lease lock files, nothing more.
    var holderGroup: gid_t? {
        var st = stat()
        return fstat(meta.fd, &st) == 0 ? st.st_gid : nil
    }

    /// Refuses (exit 1) unless this process runs as the operator or root.
    /// Permissions on the files already stop others; this check also holds
    /// where an operator has loosened them, and says why in words.
    public func requireOperator(_ action: String) throws {
        let me = geteuid()
        guard me != 0, let owner = operatorUID, owner != me else { return }
        throw TreesError(.failure, "only the operator (uid \(owner), the owner of \(path)/.trees) or root may \(action); this is uid \(me)",
                         errno: .notPermitted, hint: "See trees(1), WHO MAY DO WHAT. A job ends its own lease by exiting.")
    }

    /// Permission settings that would let someone other than the operator
    /// change the record (a group- or world-writable `.trees` or database).
    public func permissionProblems() -> [String] {
        var problems: [String] = []
        var st = stat()
        if fstat(meta.fd, &st) == 0 && (st.st_mode & 0o022) != 0 {
            problems.append("\(path)/.trees is writable by its group or others (mode \(String(st.st_mode & 0o7777, radix: 8))); run: chmod go-w \(path)/.trees")
        }
        if fstatat(meta.fd, "leases", &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & 0o022) != 0 {
            problems.append("\(path)/.trees/leases is writable by its group or others; run: chmod go-w \(path)/.trees/leases")
        }
        if fstatat(meta.fd, "state.db", &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & 0o022) != 0 {
            problems.append("\(databasePath) is writable by its group or others; run: chmod go-w \(databasePath)")
        }
        return problems
    }
}

/// `realpath(3)`, or nil with errno set.
func canonicalPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}

/// `mkdir -p`, for the root itself (the only place a path, not a descriptor, is walked).
func makeDirectories(_ path: String) throws {
    var prefix = path.hasPrefix("/") ? "" : "."
    for component in path.split(separator: "/", omittingEmptySubsequences: true) {
        prefix += "/" + component
        if mkdir(prefix, 0o755) != 0 {
            let err = errno
            if err == EEXIST { continue }
            throw TreesError.system("cannot create root", prefix, errno: err)
        }
    }
}
