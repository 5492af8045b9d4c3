#if canImport(Glibc)
import Glibc
#endif
import CArchive
import CTreesShim

/// One archive member on its way to disk.
struct ArchiveMember {
    /// Its header as the decoder copied it from libarchive.
    let header: ArchiveHeader
    /// Its path inside the tree, checked by `memberComponents`.
    let components: [FileName]
    let name: FileName
    /// Opened through real directories only (`openParent`).
    let parent: Directory
    /// Its path as messages show it.
    let shown: String
    /// Where it is written, for messages.
    var path: String { parent.child(name) }
}

/// Each kind of member by its own function; `write` chooses.
extension ArchiveExtractor {
    mutating func write(_ member: ArchiveMember, from feed: ArchiveFeed, root: Directory) throws {
        if let target = member.header.hardlink {
            try writeHardLink(member, to: target, root: root)
            return
        }
        let type = member.header.type
        let perm = member.header.perm
        switch type {
        case S_IFDIR: try writeDirectory(member, perm: perm)
        case S_IFREG: try writeFile(member, perm: perm, from: feed)
        case S_IFLNK: try writeSymlink(member)
        default: throw refusal(member, type: type)
        }
        if tally.files % 256 == 0 { progress?(tally) }
    }

    func writeDirectory(_ member: ArchiveMember, perm: mode_t) throws {
        try makeDirectory(member.name, in: member.parent, mode: 0o700)
        let dir = try openChild(member.parent, member.name, member: member.shown)
        try syscall("cannot set mode of", dir.path) { fchmod(dir.fd, perm | 0o700) }
    }

    /// Writes the member's data as the decoder hands it over (hashed there,
    /// on the way).
    mutating func writeFile(_ member: ArchiveMember, perm: mode_t, from feed: ArchiveFeed) throws {
        // Created with the mode sealing will give it when the umask keeps
        // all of it (the fd is writable all the same: it made the file), so
        // neither an fchmod here nor the seal's fchmodat is needed;
        // otherwise as before, 0600 now and the member's mode once written.
        let sealed = sealedMode(perm | 0o600)
        let direct = sealed & processUmask == 0
        let outFD = try making(member, "cannot create") {
            member.name.withCName { openat(member.parent.fd, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, direct ? sealed : 0o600) }
        }
        let output = FileDescriptor(outFD)
        reading: while true {
            switch try feed.next() {
            case .data(let bytes):
                try writeAll(output.raw, bytes, count: bytes.count, path: member.path)
                tally.bytes += Int64(bytes.count)
            case .end(let hash):
                try record(treePath(member.components), hash)
                break reading
            case .failure(let error):
                throw error
            case .member, .finished:
                throw TreesError(.failure, "internal error: archive member \(member.shown) without the end of its data")
            }
        }
        if !direct {
            try syscall("cannot set mode of", member.path) { fchmod(output.raw, perm | 0o600) }
        }
        tally.files += 1
    }

    mutating func writeSymlink(_ member: ArchiveMember) throws {
        guard let target = member.header.symlink else {
            throw bad("archive symlink \(member.shown) has no target")
        }
        try checkSymlinkTarget(target, linkComponents: member.components, member: member.shown)
        _ = try making(member, "cannot create symlink") {
            target.withCName { t in member.name.withCName { symlinkat(t, member.parent.fd, $0) } }
        }
        tally.files += 1
    }

    /// Makes a member's name with `make` (`openat` with O_EXCL, `symlinkat`,
    /// `linkat`: each fails on any existing name and follows none). Only when
    /// that fails is the name judged by `replaceable` and made again, exactly
    /// as the single loop did in that order; a new name (nearly every one)
    /// thus costs no `unlinkat`, and an existing one gets the same outcome
    /// and messages as before.
    func making<T: BinaryInteger>(_ member: ArchiveMember, _ call: String, _ make: () -> T) throws -> T {
        let first = retryingEINTR(make)
        if first != -1 { return first }
        try replaceable(member.parent, member.name, member: member.shown)
        return try syscall(call, member.path, make)
    }

    func refusal(_ member: ArchiveMember, type: mode_t) -> TreesError {
        bad("archive member \(member.shown) is \(fileKind(type)); trees refuses device nodes, FIFOs and sockets")
    }

    /// A symlink's target must stay inside the tree lexically, `..` leading only.
    func checkSymlinkTarget(_ target: FileName, linkComponents: [FileName], member: String) throws {
        if target.isEmpty { throw bad("symlink \(member) has an empty target") }
        if target.count > TreeLimits.maxPathBytes {
            throw bad("symlink \(member) has a target of \(target.count) bytes; trees allows at most \(TreeLimits.maxPathBytes)")
        }
        if target.first == 0x2f {
            throw bad("symlink \(member) points outside the tree (absolute target \(target.display))")
        }
        var depth = linkComponents.count - 1
        var seenNormal = false
        for part in target.split(separator: 0x2f, omittingEmptySubsequences: true) {
            if part == [0x2e] { continue }
            if part == [0x2e, 0x2e] {
                if seenNormal { throw bad("symlink \(member) has '..' after a path component (\(target.display))") }
                depth -= 1
                if depth < 0 { throw bad("symlink \(member) points outside the tree (\(target.display))") }
            } else {
                seenNormal = true
            }
        }
    }

    /// A hard link must name an earlier regular file of the archive.
    mutating func writeHardLink(_ member: ArchiveMember, to target: FileName, root: Directory) throws {
        let targetComponents = try memberComponents(target, what: "hard link \(member.shown)")
        if targetComponents == member.components { throw bad("hard link \(member.shown) names itself") }
        guard let targetName = targetComponents.last else { throw bad("hard link \(member.shown) has an empty target") }
        let targetParent: Directory
        do {
            targetParent = try openParent(root, targetComponents.dropLast(), member: member.shown, create: false)
        } catch let e as TreesError where e.errno == .noSuchFileOrDirectory {
            throw bad("hard link \(member.shown) names \(target.display), which is not an earlier member")
        }
        var st = stat()
        let rc = targetName.withCName { fstatat(targetParent.fd, $0, &st, AT_SYMLINK_NOFOLLOW) }
        guard rc == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw bad("hard link \(member.shown) names \(target.display), which is not an earlier regular file of the archive")
        }
        _ = try making(member, "cannot create hard link") {
            targetName.withCName { t in member.name.withCName { linkat(targetParent.fd, t, member.parent.fd, $0, 0) } }
        }
        tally.files += 1
        // The same inode as an earlier file, whose hash is not looked up
        // here: the seal reads this one (a link replacing an earlier member
        // of its name must not keep that member's hash).
        try ledger.forget(treePath(member.components))
    }
}

/// The process's umask, read once from /proc/self/status (umask(2) can only
/// read it by changing it); all bits (never trust it) when it cannot be read.
let processUmask: mode_t = {
    guard let f = fopen("/proc/self/status", "re") else { return 0o7777 }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), f) != nil {
        let text = String(cString: line)
        if text.hasPrefix("Umask:") {
            let digits = text.dropFirst(6).filter { $0 >= "0" && $0 <= "7" }
            return mode_t(digits, radix: 8) ?? 0o7777
        }
    }
    return 0o7777
}()
