#if canImport(Glibc)
import Glibc
#endif

/// The files of the installed revisions of one NAME, by content, so that an
/// install can hard-link a file it would otherwise copy (a shared inode is
/// one file: a change through either tree shows in both, as `verify` says).
///
/// Built once per install from the stored manifests of the newest ready
/// trees of the same NAME, read in pieces, with 24 bytes per file in memory
/// (at most `maxSlots`) and the rest in a scratch file: size is the hint (only a source file whose size
/// some indexed file has is hashed before it is written), the manifest's
/// SHA-256 says which installed file to try. A link is made only to a
/// regular file opened fd-relatively with `O_NOFOLLOW` from the installed
/// tree whose size, mode and owner are what the new file would get (hard
/// links share mode, owner and mtime) and whose content, read again through
/// that descriptor, still hashes to the source's SHA-256.
///
/// The re-hash is the integrity rule: read-only modes do not stop root, and
/// a file rewritten in place with the same size keeps its size, mode, owner
/// and (after `touch -d`) its mtime, so only its bytes show that the manifest
/// no longer describes it. Linking to it would install content the source
/// never had. Its change time is no proof either: `link(2)` (the next dedup),
/// `unlink(2)` (gc of an older tree sharing it), `chmod` and `chown` move
/// it, the clock can be set back, and a coarse clock gives a write in the
/// same tick as the seal the same ctime. Re-reading costs a read of bytes
/// that are usually in the page cache, done on both copier threads
/// (`FileCopyQueue`; figures in contrib/bench/results.md).
/// The inode linked is the one hashed (linked through its descriptor); a
/// write after that is a change to an installed tree, which `verify` reports
/// for every tree that links the file.
///
/// Any failure (the tree went, a changed file, `EXDEV`, `EMLINK`, `EPERM`)
/// means copy. Each copier thread links through its own copy of the index:
/// the table is read-only once loaded, the open directories are per copy.
struct DedupIndex {
    struct Candidate {
        let rev: Rev
        let path: FileName
        let mode: UInt32
        let uid: UInt32
        let gid: UInt32
    }

    /// One indexed file: 24 bytes in memory, the rest of it (path, mode,
    /// owner, full hash) in the scratch file at `offset`. Sorted by size,
    /// then the first 8 bytes of the hash, then `offset` (newest tree first).
    struct Slot {
        let size: Int64
        let prefix: UInt64
        let offset: Int64
    }

    /// At most this many files are indexed (24 MiB), the newest trees'
    /// first: memory is bounded whatever the trees hold; a file past the
    /// bound is copied rather than linked.
    static let maxSlots = 1 << 20

    private var slots: [Slot] = []
    private let candidates: ScratchFile?
    private var revs: [Rev] = []
    private let nameDir: Directory?
    private var trees: [Rev: Directory] = [:]
    /// The directory of the last file linked: files of one source directory
    /// come one after another, so one cached descriptor saves most opens.
    private var lastDir: (rev: Rev, prefix: FileName, dir: Directory)?

    static var empty: DedupIndex { DedupIndex(nameDir: nil, candidates: nil) }

    private init(nameDir: Directory?, candidates: ScratchFile?) {
        self.nameDir = nameDir
        self.candidates = candidates
    }

    /// Whether an indexed file has this size: only then is a source file
    /// hashed before it is written.
    func mayHold(size: Int64) -> Bool {
        let i = lowerBound(size: size, prefix: 0)
        return i < slots.count && slots[i].size == size
    }

    private func lowerBound(size: Int64, prefix: UInt64) -> Int {
        var low = 0, high = slots.count
        while low < high {
            let mid = (low + high) / 2
            let s = slots[mid]
            if s.size < size || (s.size == size && s.prefix < prefix) { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Indexes the `newest` most recently installed ready trees of `name`
    /// (a newer tree's file wins over an older one's with the same content),
    /// reading their stored manifests in pieces; the details go to a scratch
    /// file in `scratch` (the install's staging container).
    static func load(for name: TreeName, root: Root, store: Store, scratch: Directory, newest: Int = 3) throws -> DedupIndex {
        let ready = try store.trees(name: name).filter { $0.state == .ready }.suffix(newest)
        guard !ready.isEmpty, let nameDir = try root.nameDirectory(name) else { return .empty }
        var index = DedupIndex(nameDir: nameDir, candidates: try ScratchFile(in: scratch))
        guard let file = index.candidates else { return .empty }
        index.slots.reserveCapacity(min(maxSlots, Int(ready.reduce(0) { $0 + max(0, $1.files) })))
        var record: [UInt8] = []
        for tree in ready.reversed() where index.slots.count < maxSlots {
            let revIndex = UInt8(index.revs.count)
            index.revs.append(tree.ref.rev)
            var decoder = ManifestDecoder()
            let found = try store.readManifest(treeID: tree.id) { piece in
                try decoder.feed(piece) { e in
                    // Format 2 only (it records owners).
                    guard e.kind == UInt8(ascii: "f"), e.size > 0, e.value.count == HashLedger.hashBytes,
                          let uid = e.uid, let gid = e.gid, index.slots.count < maxSlots else { return }
                    // rev (1), mode, uid, gid (4 each), path length (2), hash (64), path
                    record.removeAll(keepingCapacity: true)
                    record.append(revIndex)
                    for v in [e.mode, uid, gid] { withUnsafeBytes(of: v.littleEndian) { record += $0 } }
                    withUnsafeBytes(of: UInt16(e.path.count).littleEndian) { record += $0 }
                    record += e.value
                    record += e.path
                    index.slots.append(Slot(size: e.size, prefix: Self.prefix(e.value), offset: Int64(file.count)))
                    try file.append(record)
                }
            }
            // A damaged or missing manifest only means nothing of that tree is linked.
            if !found || decoder.finish() == nil { continue }
        }
        try file.flush()
        index.slots.sort { a, b in
            a.size != b.size ? a.size < b.size : a.prefix != b.prefix ? a.prefix < b.prefix : a.offset < b.offset
        }
        return index
    }

    /// The first 8 bytes of a hex hash, as a number (for sorting and search).
    private static func prefix(_ hex: [UInt8]) -> UInt64 {
        var v: UInt64 = 0
        for b in hex.prefix(8) { v = v << 8 | UInt64(b) }
        return v
    }

    /// The newest indexed file with this content, read back from the scratch file.
    /// Scratch for reading a candidate back: one per copy of the index (each
    /// copier thread has its own), not one allocation per file looked up.
    private var recordBuffer: [UInt8] = []

    private mutating func candidate(hash: [UInt8], size: Int64) -> Candidate? {
        guard let file = candidates else { return nil }
        var i = lowerBound(size: size, prefix: Self.prefix(hash))
        let fixed = 1 + 12 + 2 + HashLedger.hashBytes
        if recordBuffer.isEmpty { recordBuffer = [UInt8](repeating: 0, count: fixed + TreeLimits.maxPathBytes) }
        // Taken out and put back, so the array is never shared (and copied) while written.
        var buffer: [UInt8] = []
        swap(&buffer, &recordBuffer)
        defer { swap(&buffer, &recordBuffer) }
        while i < slots.count, slots[i].size == size, slots[i].prefix == Self.prefix(hash) {
            defer { i += 1 }
            guard let n = try? buffer.withUnsafeMutableBytes({ try file.read(at: Int(slots[i].offset), into: $0) }),
                  n >= fixed else { continue }
            func u32(_ at: Int) -> UInt32 { UInt32(buffer[at]) | UInt32(buffer[at + 1]) << 8 | UInt32(buffer[at + 2]) << 16 | UInt32(buffer[at + 3]) << 24 }
            let length = Int(UInt16(buffer[13]) | UInt16(buffer[14]) << 8)
            guard n >= fixed + length, Array(buffer[15..<(15 + HashLedger.hashBytes)]) == hash,
                  Int(buffer[0]) < revs.count else { continue }
            return Candidate(rev: revs[Int(buffer[0])], path: Array(buffer[fixed..<(fixed + length)]),
                             mode: u32(1), uid: u32(5), gid: u32(9))
        }
        return nil
    }

    /// Hard-links an installed file with this content, mode and owner as
    /// `name` in `dst`; false (nothing done) when there is none, its content
    /// no longer hashes to `hash`, or linking fails.
    /// - Parameters:
    ///   - mode: the sealed mode the new file would get.
    ///   - buffer: scratch space for reading the candidate again.
    mutating func link(hash: String, size: Int64, mode: UInt32, uid: uid_t, gid: gid_t,
                       as name: FileName, in dst: Directory, buffer: inout [UInt8]) -> Bool {
        guard let c = candidate(hash: Array(hash.utf8), size: size),
              c.mode == mode, c.uid == uid, c.gid == gid,
              let file = open(c) else { return false }
        var st = stat()
        guard fstat(file.raw, &st) == 0, st.st_mode & S_IFMT == S_IFREG, Int64(st.st_size) == size,
              UInt32(st.st_mode) & 0o7777 == mode, st.st_uid == uid, st.st_gid == gid else { return false }
        // A read error is a mismatch too: copy.
        guard let now = try? hashReading(file.raw, path: "", buffer: &buffer), now.size == size, now.hash == hash else {
            return false
        }
        // Links the inode opened (not a name that could be swapped since);
        // /proc/self/fd needs no CAP_DAC_READ_SEARCH, unlike AT_EMPTY_PATH.
        let rc = retryingEINTR {
            name.withCName { linkat(AT_FDCWD, "/proc/self/fd/\(file.raw)", dst.fd, $0, AT_SYMLINK_FOLLOW) }
        }
        return rc == 0
    }

    /// Hashes the source file `name` of `src` and, when an installed tree of
    /// the same NAME holds that content with the mode and owner a copy would
    /// get, links it as `name` in `dst`. Nil when it did not (the caller
    /// copies; the second read of the source comes from the page cache).
    /// Either copier thread calls this on its own copy of the index.
    /// - Parameter mode: the mode the copy would be created with.
    mutating func link(_ name: FileName, from src: Directory, to dst: Directory, mode: mode_t,
                       buffer: inout [UInt8]) throws -> FileHash? {
        let input = try src.openFile(name)
        let read = try hashReading(input.raw, path: src.child(name), buffer: &buffer)
        // The owner and sealed mode the copy would have: created by this
        // process, its group inherited from a setgid directory.
        let dirStatus = try dst.status()
        let gid = dirStatus.st_mode & S_ISGID != 0 ? dirStatus.st_gid : getegid()
        let sealed = UInt32(mode) & 0o7555 & ~0o6000
        guard link(hash: read.hash, size: read.size, mode: sealed, uid: geteuid(), gid: gid, as: name, in: dst,
                   buffer: &buffer) else { return nil }
        return read
    }

    /// Opens the candidate's file through its tree, one component at a time, never following a symlink.
    private mutating func open(_ c: Candidate) -> FileDescriptor? {
        let parts = c.path.split(separator: 0x2f, omittingEmptySubsequences: false).map(Array.init)
        guard let leaf = parts.last, !parts.contains(where: { $0.isEmpty || $0 == [0x2e] || $0 == [0x2e, 0x2e] }) else { return nil }
        let prefix = Array(c.path.dropLast(leaf.count))
        var dir: Directory
        if let last = lastDir, last.rev == c.rev, last.prefix == prefix {
            dir = last.dir
        } else {
            guard let top = tree(c.rev) else { return nil }
            dir = top
            for part in parts.dropLast() {
                guard let next = try? dir.openDirectory(part) else { return nil }
                dir = next
            }
            lastDir = (c.rev, prefix, dir)
        }
        return try? dir.openFile(leaf)
    }

    private mutating func tree(_ rev: Rev) -> Directory? {
        if let known = trees[rev] { return known }
        guard let dir = try? nameDir?.openDirectory(rev.value) else { return nil }
        trees[rev] = dir
        return dir
    }
}
