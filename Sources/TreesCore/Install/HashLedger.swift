#if canImport(Glibc)
import Glibc
#endif

/// The SHA-256 and size of each file as it was written into staging, kept
/// for the seal, which records them in the manifest instead of reading
/// every file again.
///
/// The seal walks the tree in path order, and files arrive here in any
/// order (an archive's, or two copier threads'), so this is an external
/// sort: records gather in a buffer of at most `runBytes`, which is sorted
/// by path and written out as one run to a scratch file whenever it fills;
/// the seal merges the runs (`Lookup`). What an install holds for this no
/// longer grows with the tree: a million files make about thirty runs.
///
/// A later record of a path wins over an earlier one (an archive member
/// that replaces an earlier member of the same name); `forget` records
/// that a path's content is not known (a hard link, whose target's hash
/// is not looked up), so the seal reads that file.
final class HashLedger {
    struct Run { let start: Int, end: Int }

    private let file: ScratchFile
    private var buffer: [UInt8] = []
    /// Where each buffered record starts, in the order they came.
    private var starts: [Int32] = []
    private(set) var runs: [Run] = []
    let runBytes: Int

    init(in dir: Directory, runBytes: Int = 4 << 20) throws {
        file = try ScratchFile(in: dir)
        self.runBytes = runBytes
        buffer.reserveCapacity(runBytes)
    }

    /// Record: path length (2 bytes), path, known (1 byte), hex hash (64 bytes), size (8 bytes).
    static let hashBytes = 64

    func record(_ path: FileName, _ hash: FileHash) throws {
        try append(path, hash: hash)
    }

    func forget(_ path: FileName) throws {
        try append(path, hash: nil)
    }

    private func append(_ path: FileName, hash: FileHash?) throws {
        let length = 2 + path.count + 1 + Self.hashBytes + 8
        if buffer.count + length > runBytes { try spill() }
        starts.append(Int32(buffer.count))
        withUnsafeBytes(of: UInt16(path.count).littleEndian) { buffer.append(contentsOf: $0) }
        buffer += path
        if let hash {
            buffer.append(1)
            let hex = Array(hash.hash.utf8)
            precondition(hex.count == Self.hashBytes, "a SHA-256 in hex")
            buffer += hex
            withUnsafeBytes(of: hash.size.littleEndian) { buffer.append(contentsOf: $0) }
        } else {
            buffer.append(0)
            buffer += [UInt8](repeating: 0, count: Self.hashBytes + 8)
        }
    }

    /// Sorts the buffered records by path (equal paths keep their order)
    /// and writes them out as one run.
    func spill() throws {
        guard !starts.isEmpty else { return }
        let sorted = buffer.withUnsafeBytes { raw -> [Int32] in
            func path(_ at: Int32) -> UnsafeRawBufferPointer {
                let s = Int(at)
                let n = Int(raw.loadUnaligned(fromByteOffset: s, as: UInt16.self).littleEndian)
                return UnsafeRawBufferPointer(rebasing: raw[(s + 2)..<(s + 2 + n)])
            }
            return starts.sorted { a, b in
                let order = compareBytes(path(a), path(b))
                return order != 0 ? order < 0 : a < b
            }
        }
        let start = file.count
        try buffer.withUnsafeBytes { raw in
            for s in sorted {
                let at = Int(s)
                let n = Int(raw.loadUnaligned(fromByteOffset: at, as: UInt16.self).littleEndian)
                try file.append(UnsafeRawBufferPointer(rebasing: raw[at..<(at + 2 + n + 1 + Self.hashBytes + 8)]))
            }
        }
        try file.flush()
        runs.append(Run(start: start, end: file.count))
        buffer.removeAll(keepingCapacity: true)
        starts.removeAll(keepingCapacity: true)
    }

    /// Hands out the hashes of paths asked for in ascending byte order of
    /// path, merging the runs of every ledger given (a later ledger, and a
    /// later run, wins a tie: it was written later).
    struct Lookup {
        fileprivate struct Head {
            var reader: ScratchReader
            var path: FileName = []
            var hash: FileHash?
            var valid = false

            mutating func advance() throws {
                guard let lengthBytes = try reader.take(2) else { valid = false; return }
                let n = Int(UInt16(lengthBytes[lengthBytes.startIndex]) | UInt16(lengthBytes[lengthBytes.startIndex + 1]) << 8)
                guard let rest = try reader.take(n + 1 + HashLedger.hashBytes + 8) else { valid = false; return }
                let base = rest.startIndex
                path = Array(rest[base..<(base + n)])
                if rest[base + n] == 1 {
                    let hex = rest[(base + n + 1)..<(base + n + 1 + HashLedger.hashBytes)]
                    var size: Int64 = 0
                    withUnsafeMutableBytes(of: &size) { out in
                        for i in 0..<8 { out[i] = rest[base + n + 1 + HashLedger.hashBytes + i] }
                    }
                    hash = FileHash(hash: String(decoding: hex, as: UTF8.self), size: Int64(littleEndian: size))
                } else {
                    hash = nil
                }
                valid = true
            }
        }

        private var heads: [Head] = []

        fileprivate init(files: [(ScratchFile, [Run])]) throws {
            for (file, runs) in files {
                for run in runs {
                    var head = Head(reader: ScratchReader(file, from: run.start, to: run.end, bufferBytes: 1 << 14))
                    try head.advance()
                    if head.valid { heads.append(head) }
                }
            }
        }

        /// The last hash recorded for `path`; nil when none was, or the
        /// last record of it was `forget`. Paths must be asked in order.
        mutating func hash(for path: FileName) throws -> FileHash? {
            var found: FileHash?
            var foundAny = false
            for i in heads.indices {
                while heads[i].valid {
                    let order = compareBytes(heads[i].path, path)
                    if order > 0 { break }
                    if order == 0 { found = heads[i].hash; foundAny = true }
                    try heads[i].advance()
                }
            }
            return foundAny ? found : nil
        }
    }

    /// Every path recorded and its last hash (nil: forgotten), all in
    /// memory: for tests of what a copier or extractor recorded.
    static func contents(_ ledgers: [HashLedger]) throws -> [FileName: FileHash?] {
        var all: [FileName: FileHash?] = [:]
        for ledger in ledgers {
            try ledger.spill()
            for run in ledger.runs {
                var head = Lookup.Head(reader: ScratchReader(ledger.file, from: run.start, to: run.end))
                try head.advance()
                while head.valid {
                    all[head.path] = .some(head.hash)
                    try head.advance()
                }
            }
        }
        return all
    }

    /// A lookup over these ledgers, in the order they were written. Spills
    /// what each still buffers.
    static func lookup(_ ledgers: [HashLedger]) throws -> Lookup {
        for ledger in ledgers { try ledger.spill() }
        return try Lookup(files: ledgers.map { ($0.file, $0.runs) })
    }
}

/// Byte order, as memcmp, then the shorter first: the order of manifest paths.
func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let n = min(a.count, b.count)
    if n > 0 {
        let c = memcmp(a.baseAddress!, b.baseAddress!, n)
        if c != 0 { return Int(c) }
    }
    return a.count - b.count
}
