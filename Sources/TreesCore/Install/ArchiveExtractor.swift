#if canImport(Glibc)
import Glibc
#endif
import CArchive
import CTreesShim

/// Extracts a tar archive (plain, gzip, xz or zstd; decoded by libarchive)
/// into a staging directory. libarchive only reads; every file is created
/// here, fd-relatively, so the checks below and in `+Members` are the whole
/// policy:
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
    let ledger: HashLedger
    let progress: ProgressHandler?
    let archivePath: String

    /// - Parameter scratch: where the ledger keeps its runs (the staging container).
    init(progress: ProgressHandler?, archivePath: String, scratch: Directory) throws {
        self.progress = progress
        self.archivePath = archivePath
        ledger = try HashLedger(in: scratch)
    }

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
            guard let member = try place(entry, in: root) else { continue }
            try write(member, from: archive, root: root, buffer: &buffer)
        }
        // Whatever the tar reader left unread must still decode cleanly.
        if CT_archive_read_close(archive) != ARCHIVE_OK {
            throw bad("damaged archive: \(message(archive))")
        }
        // libarchive reads through the raw descriptor: closing it here, its
        // last use, keeps it open for all of the reading above.
        file.close()
    }

    /// Where a member goes: its path checked, its parent directories made
    /// and opened. Nil for a member that names the tree itself (`./`).
    private func place(_ entry: OpaquePointer, in root: Directory) throws -> ArchiveMember? {
        // The raw form: the `_utf8` and wide forms re-encode, and
        // String(cString:) would turn invalid bytes into U+FFFD.
        guard let rawPath = CT_archive_entry_pathname(entry) else {
            throw bad("archive member with an unreadable name")
        }
        let memberPath = FileName(cString: rawPath)
        let shown = memberPath.display
        let components = try memberComponents(memberPath)
        guard let name = components.last else { return nil }
        let parent = try openParent(root, components.dropLast(), member: shown, create: true)
        return ArchiveMember(entry: entry, components: components, name: name, parent: parent, shown: shown)
    }

    func treePath(_ components: [FileName]) -> FileName {
        Array(components.joined(separator: [0x2f]))
    }

    func message(_ archive: OpaquePointer) -> String {
        CT_archive_error_string(archive).map { String(cString: $0) } ?? "unknown error"
    }

    func bad(_ text: String) -> TreesError {
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
    func openParent(_ root: Directory, _ components: ArraySlice<FileName>, member: String, create: Bool) throws -> Directory {
        var dir = root
        for part in components {
            if create {
                // An existing entry is judged by openChild: a real directory is
                // entered, anything else (a symlink above all) is refused.
                try makeDirectory(part, in: dir, mode: 0o755)
            }
            dir = try openChild(dir, part, member: member)
        }
        return dir
    }

    /// mkdirat(2), where a name that exists already is left to `openChild`.
    func makeDirectory(_ name: FileName, in dir: Directory, mode: mode_t) throws {
        let rc = name.withCName { mkdirat(dir.fd, $0, mode) }
        let err = errno
        if rc != 0 && err != EEXIST {
            throw TreesError.system("cannot create directory", dir.child(name), errno: err)
        }
    }

    func openChild(_ dir: Directory, _ name: FileName, member: String) throws -> Directory {
        do {
            return try dir.openDirectory(name)
        } catch let e as TreesError where e.errno == .tooManySymbolicLinks || e.errno == .notDirectory || e.errno == .fileExists {
            throw bad("member \(member) would be written through a symlink or a non-directory (\(name.display))")
        }
    }

    /// A later member may replace an earlier file or link, never a directory.
    func replaceable(_ parent: Directory, _ name: FileName, member: String) throws {
        // (A replaced name's recorded hash is overwritten by its new member,
        // or, for a symlink, never read: the walker hashes regular files only.)
        let rc = name.withCName { unlinkat(parent.fd, $0, 0) }
        if rc == 0 { return }
        let err = errno
        if err == ENOENT { return }
        if err == EISDIR { throw bad("member \(member) would replace a directory") }
        throw TreesError.system("cannot replace", parent.child(name), errno: err)
    }
}
