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
///   (`ArchiveSource`: the stream's checks, made by the one
///   decompression that feeds the tar reader, to the stream's very end; its
///   verdict comes before any other error), and the tar stream must end
///   cleanly: a damaged archive installs nothing (the installer removes its
///   staging on any error).
///
/// Decoding (libarchive, hashing) runs on a second thread and hands headers
/// and data chunks over a queue bounded in bytes (`ArchiveQueue`); this
/// thread makes and writes every member in archive order, so hard links and
/// members that replace earlier ones behave as in one loop, and errors are
/// met in archive order.
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
        let queue = ArchiveQueue()
        // Decompresses once, checking the compressed stream as it goes.
        let source = try ArchiveSource(path: archivePath, fail: { [archivePath] in Self.bad(archivePath, $0) })
        var failure: (any Error)?
        do {
            try extractMembers(archive, from: source, into: root, queue: queue)
        } catch {
            failure = error
        }
        // A damaged stream is reported as such whatever else went wrong,
        // as when it was checked whole before the first write: the rest is
        // decoded now (the decoder has been joined), and what was written
        // meanwhile is the installer's staging, removed on any error.
        if let damage = source.verdict() { throw damage }
        if let failure { throw failure }
    }

    /// Decodes on a second thread (`ArchiveDecoder`) while this one makes
    /// and writes every member in archive order; the first error on either
    /// side ends both.
    private mutating func extractMembers(_ archive: OpaquePointer, from source: ArchiveSource, into root: Directory, queue: ArchiveQueue) throws {
        CT_archive_read_support_filter_gzip(archive)
        CT_archive_read_support_filter_xz(archive)
        CT_archive_read_support_filter_zstd(archive)
        CT_archive_read_support_format_tar(archive)

        guard source.open(archive) == ARCHIVE_OK else {
            throw bad("cannot read archive: \(message(archive))")
        }
        let decoder = ArchiveDecoder(archive: archive, queue: queue, bad: { [archivePath] in Self.bad(archivePath, $0) })
        let thread = WorkerThread { decoder.run() }
        let threaded = thread.start()
        if !threaded { decoder.blocking = false }
        let feed = ArchiveFeed(queue: queue, decoder: threaded ? nil : decoder)
        defer {
            queue.cancel()   // a no-op after .finished; on an error, stops the decoder
            if threaded { thread.join() }
        }
        try writeMembers(into: root, from: feed)
    }

    /// Takes the decoder's items in archive order and writes each member.
    private mutating func writeMembers(into root: Directory, from feed: ArchiveFeed) throws {
        var parents = ParentCache()
        while true {
            switch try feed.next() {
            case .member(let header):
                guard let member = try place(header, in: root, parents: &parents) else { continue }
                try write(member, from: feed, root: root)
            case .failure(let error):
                throw error
            case .finished:
                return
            case .data, .end:
                throw TreesError(.failure, "internal error: archive data without its member")
            }
        }
    }

    /// Where a member goes: its path checked, its parent directories made
    /// and opened. Nil for a member that names the tree itself (`./`).
    private func place(_ header: ArchiveHeader, in root: Directory, parents: inout ParentCache) throws -> ArchiveMember? {
        let memberPath = header.path
        let shown = memberPath.display
        let components = try memberComponents(memberPath)
        guard let name = components.last else { return nil }
        let parent = try parents.directory(components.dropLast()) {
            try openParent(root, components.dropLast(), member: shown, create: true)
        }
        return ArchiveMember(header: header, components: components, name: name, parent: parent, shown: shown)
    }

    /// Records a written file's hash for the seal (`HashLedger`).
    func record(_ path: FileName, _ hash: FileHash) throws {
        try ledger.record(path, hash)
    }

    func treePath(_ components: [FileName]) -> FileName {
        Array(components.joined(separator: [0x2f]))
    }

    func message(_ archive: OpaquePointer) -> String {
        CT_archive_error_string(archive).map { String(cString: $0) } ?? "unknown error"
    }

    func bad(_ text: String) -> TreesError {
        Self.bad(archivePath, text)
    }

    static func bad(_ archivePath: String, _ text: String) -> TreesError {
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
