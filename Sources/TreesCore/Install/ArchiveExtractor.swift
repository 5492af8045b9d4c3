#if canImport(Glibc)
import Glibc
#endif
import CArchive
import CTreesShim

/// Extracts a tar archive (plain, gzip, xz or zstd; decoded by libarchive)
/// into a staging directory. libarchive only reads; every file is created
/// here, fd-relatively, so the checks below are the whole policy:
///
/// - member paths are relative, without `..`; a parent that is a symlink or
///   not a directory is refused (a member can never be written through a link);
/// - symlink targets must stay inside the tree lexically, with `..` only as
///   leading components (so no chain of links can climb out);
/// - hard links must name an earlier regular file of the archive;
/// - device nodes, FIFOs and sockets are refused;
/// - names are bytes, taken as the archive holds them (never re-encoded), and
///   paths beyond `TreeLimits` (depth, name and path length) are refused;
/// - the whole compressed stream is decoded and its checksums checked
///   before the first write (`CompressedStreamCheck`), and the tar stream
///   must end cleanly: a damaged archive installs nothing.
struct ArchiveExtractor {
    var tally = Progress(phase: "extracting", files: 0, bytes: 0)
    /// Each extracted file's SHA-256 and size by path inside the tree.
    var hashes: [FileName: FileHash] = [:]
    let progress: ProgressHandler?
    let archivePath: String

    mutating func extract(into root: Directory) throws {
        guard let archive = CT_archive_read_new() else {
            throw TreesError(.failure, libarchiveLoadError ?? "cannot allocate an archive reader")
        }
        defer { CT_archive_read_free(archive) }
        try CompressedStreamCheck(path: archivePath, fail: bad).run()
        CT_archive_read_support_filter_gzip(archive)
        CT_archive_read_support_filter_xz(archive)
        CT_archive_read_support_filter_zstd(archive)
        CT_archive_read_support_format_tar(archive)

        let fd = try syscall("cannot open archive", archivePath) { open(archivePath, O_RDONLY | O_CLOEXEC) }
        let file = FileDescriptor(fd)
        guard CT_archive_read_open_fd(archive, file.raw, 1 << 16) == ARCHIVE_OK else {
            throw bad("cannot read archive: \(message(archive))")
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 18)
        var entry: OpaquePointer?
        while true {
            let rc = CT_archive_read_next_header(archive, &entry)
            if rc == ARCHIVE_EOF { break }
            // ARCHIVE_RETRY (a damaged header) counts as damage, not as a member.
            guard rc == ARCHIVE_OK || rc == ARCHIVE_WARN, let entry else {
                throw bad("damaged archive: \(message(archive))")
            }
            // The raw form: the `_utf8` and wide forms re-encode, and
            // String(cString:) would turn invalid bytes into U+FFFD.
            guard let rawPath = CT_archive_entry_pathname(entry) else {
                throw bad("archive member with an unreadable name")
            }
            let memberPath = FileName(cString: rawPath)
            let shown = memberPath.display
            let components = try memberComponents(memberPath)
            if components.isEmpty { continue }
            let parent = try openParent(root, components.dropLast(), member: shown, create: true)
            let name = components.last!

            if let rawTarget = CT_archive_entry_hardlink(entry) {
                let target = FileName(cString: rawTarget)
                if try memberComponents(target, what: "hard link \(shown)") == components {
                    throw bad("hard link \(shown) names itself")
                }
                try link(to: target, root: root, as: name, in: parent, member: shown)
                // The same inode: the same content (a later member of the
                // target's name replaces the name, never the shared inode).
                hashes[treePath(components)] = try hashes[treePath(memberComponents(target))]
                continue
            }
            let type = CT_archive_entry_filetype(entry) & 0o170000
            let perm = mode_t(CT_archive_entry_perm(entry)) & 0o7777 & ~0o6022
            switch type {
            case 0o040000:
                let rc = name.withCName { mkdirat(parent.fd, $0, 0o700) }
                if rc != 0 && errno != EEXIST {
                    throw TreesError.system("cannot create directory", parent.child(name), errno: errno)
                }
                let dir = try openChild(parent, name, member: shown)
                try syscall("cannot set mode of", dir.path) { fchmod(dir.fd, perm | 0o700) }
            case 0o100000:
                try replaceable(parent, name, member: shown)
                let outFD = try syscall("cannot create", parent.child(name)) {
                    name.withCName { openat(parent.fd, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
                }
                let output = FileDescriptor(outFD)
                let hasher = SHA256()
                var size: Int64 = 0
                while true {
                    let n = buffer.withUnsafeMutableBytes { CT_archive_read_data(archive, $0.baseAddress, $0.count) }
                    if n == 0 { break }
                    if n < 0 { throw bad("damaged archive at \(shown): \(message(archive))") }
                    buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                    try writeAll(output.raw, buffer, count: n, path: parent.child(name))
                    size += Int64(n)
                    tally.bytes += Int64(n)
                }
                hashes[treePath(components)] = FileHash(hash: hasher.finish(), size: size)
                try syscall("cannot set mode of", parent.child(name)) { fchmod(output.raw, perm | 0o600) }
                tally.files += 1
            case 0o120000:
                guard let rawTarget = CT_archive_entry_symlink(entry) else {
                    throw bad("archive symlink \(shown) has no target")
                }
                let target = FileName(cString: rawTarget)
                try checkSymlinkTarget(target, linkComponents: components, member: shown)
                try replaceable(parent, name, member: shown)
                try syscall("cannot create symlink", parent.child(name)) {
                    target.withCName { t in name.withCName { symlinkat(t, parent.fd, $0) } }
                }
                tally.files += 1
            default:
                throw bad("archive member \(shown) is \(fileKind(mode_t(type))); trees refuses device nodes, FIFOs and sockets")
            }
            if tally.files % 256 == 0 { progress?(tally) }
        }
        // Whatever the tar reader left unread must still decode cleanly.
        if CT_archive_read_close(archive) != ARCHIVE_OK {
            throw bad("damaged archive: \(message(archive))")
        }
    }

    private func treePath(_ components: [FileName]) -> FileName {
        Array(components.joined(separator: [0x2f]))
    }

    private func message(_ archive: OpaquePointer) -> String {
        CT_archive_error_string(archive).map { String(cString: $0) } ?? "unknown error"
    }

    private func bad(_ text: String) -> TreesError {
        TreesError(.badInput, "\(escaped(Array(archivePath.utf8))): \(text)", hint: "Nothing was installed; fix or rebuild the archive.")
    }

    /// Splits a member path into components, refusing absolute paths and `..`.
    func memberComponents(_ path: FileName, what: String? = nil) throws -> [FileName] {
        let subject = what ?? "member \(path.display)"
        if path.first == 0x2f { throw bad("\(subject) has an absolute path") }
        var out: [FileName] = []
        for part in path.split(separator: 0x2f, omittingEmptySubsequences: true) {
            if part == [0x2e] { continue }
            if part == [0x2e, 0x2e] { throw bad("\(subject) climbs out with '..'") }
            out.append(Array(part))
        }
        if let problem = TreeLimits.problem(with: out) { throw bad("\(subject) \(problem)") }
        return out
    }

    /// Walks to a member's parent directory, creating missing directories
    /// and refusing any component that is a symlink or not a directory.
    private func openParent(_ root: Directory, _ components: ArraySlice<FileName>, member: String, create: Bool) throws -> Directory {
        var dir = root
        for part in components {
            if create {
                // An existing entry is judged by openChild: a real directory is
                // entered, anything else (a symlink above all) is refused.
                let rc = part.withCName { mkdirat(dir.fd, $0, 0o755) }
                if rc != 0 && errno != EEXIST {
                    throw TreesError.system("cannot create directory", dir.child(part), errno: errno)
                }
            }
            dir = try openChild(dir, part, member: member)
        }
        return dir
    }

    private func openChild(_ dir: Directory, _ name: FileName, member: String) throws -> Directory {
        do {
            return try dir.openDirectory(name)
        } catch let e as TreesError where e.errno == .tooManySymbolicLinks || e.errno == .notDirectory || e.errno == .fileExists {
            throw bad("member \(member) would be written through a symlink or a non-directory (\(name.display))")
        }
    }

    /// A later member may replace an earlier file or link, never a directory.
    private func replaceable(_ parent: Directory, _ name: FileName, member: String) throws {
        // (A replaced name's recorded hash is overwritten by its new member,
        // or, for a symlink, never read: the walker hashes regular files only.)
        let rc = name.withCName { unlinkat(parent.fd, $0, 0) }
        if rc == 0 { return }
        let err = errno
        if err == ENOENT { return }
        if err == EISDIR { throw bad("member \(member) would replace a directory") }
        throw TreesError.system("cannot replace", parent.child(name), errno: err)
    }

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

    private mutating func link(to target: FileName, root: Directory, as name: FileName, in parent: Directory, member: String) throws {
        let targetComponents = try memberComponents(target, what: "hard link \(member) -> \(target.display)")
        guard let targetName = targetComponents.last else { throw bad("hard link \(member) has an empty target") }
        let targetParent: Directory
        do {
            targetParent = try openParent(root, targetComponents.dropLast(), member: member, create: false)
        } catch let e as TreesError where e.errno == .noSuchFileOrDirectory {
            throw bad("hard link \(member) names \(target.display), which is not an earlier member")
        }
        var st = stat()
        let rc = targetName.withCName { fstatat(targetParent.fd, $0, &st, AT_SYMLINK_NOFOLLOW) }
        guard rc == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw bad("hard link \(member) names \(target.display), which is not an earlier regular file of the archive")
        }
        try replaceable(parent, name, member: member)
        try syscall("cannot create hard link", parent.child(name)) {
            targetName.withCName { t in name.withCName { linkat(targetParent.fd, t, parent.fd, $0, 0) } }
        }
        tally.files += 1
    }
}
