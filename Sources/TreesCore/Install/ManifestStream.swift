/// Reads a stored manifest body in pieces, handing out each entry as soon
/// as its last field has arrived: verify and dedup read a manifest of any
/// size holding at most one entry of it.
struct ManifestDecoder {
    /// 2 or 1 once known (a body starting with the header is format 2).
    private(set) var format: Int?
    /// The bytes of an entry not yet complete, carried to the next piece.
    private var carry: [UInt8] = []

    /// - Throws: `ManifestDecoder.Malformed` at the first field that does
    ///   not parse; `each`'s own errors.
    mutating func feed(_ piece: UnsafeRawBufferPointer, _ each: (Manifest.Entry) throws -> Void) throws {
        carry.append(contentsOf: piece)
        if format == nil {
            let header = Manifest.header
            if carry.count >= header.count || !header.starts(with: carry) {
                format = carry.starts(with: header) ? 2 : 1
                if format == 2 { carry.removeFirst(header.count) }
            } else {
                return  // still could be the header: wait for more
            }
        }
        let width = format == 2 ? 7 : 5
        var consumed = 0
        try carry.withUnsafeBytes { raw in
            var fields: [Range<Int>] = []
            fields.reserveCapacity(width)
            var fieldStart = consumed
            var i = consumed
            while i < raw.count {
                if raw[i] == 0 {
                    fields.append(fieldStart..<i)
                    fieldStart = i + 1
                    if fields.count == width {
                        try each(try Self.entry(raw, fields, format2: width == 7))
                        fields.removeAll(keepingCapacity: true)
                        consumed = fieldStart
                    }
                }
                i += 1
            }
        }
        if consumed > 0 { carry.removeFirst(consumed) }
    }

    /// Ends the body: its format, or nil when it stopped inside an entry.
    mutating func finish() -> Int? {
        if format == nil { format = carry.isEmpty ? 1 : nil }
        return carry.isEmpty ? format : nil
    }

    struct Malformed: Error {}

    private static func entry(_ raw: UnsafeRawBufferPointer, _ f: [Range<Int>], format2: Bool) throws -> Manifest.Entry {
        func bytes(_ r: Range<Int>) -> [UInt8] { Array(raw[r]) }
        func number<T: FixedWidthInteger>(_ r: Range<Int>, radix: Int = 10) throws -> T {
            guard !r.isEmpty, let n = T(String(decoding: raw[r], as: UTF8.self), radix: radix) else { throw Malformed() }
            return n
        }
        guard f[0].count == 1 else { throw Malformed() }
        let kind = raw[f[0].lowerBound]
        let mode: UInt32 = try number(f[1], radix: 8)
        if format2 {
            return Manifest.Entry(kind: kind, mode: mode, size: try number(f[4]), value: bytes(f[5]), path: bytes(f[6]),
                                  uid: try number(f[2]), gid: try number(f[3]))
        }
        return Manifest.Entry(kind: kind, mode: mode, size: try number(f[2]), value: bytes(f[3]), path: bytes(f[4]))
    }
}

/// Writes a manifest entry by entry, in path order, as a walk produces
/// it: the body goes to a scratch file, the digest and the totals are
/// computed on the way, and nothing per entry stays in memory. What it
/// finishes is what the store saves (`BuiltManifest`).
final class ManifestWriter {
    private let body: ScratchFile?
    private var digestHasher: SHA256? = SHA256()
    private var digestBuffer: [UInt8] = []
    private var entryBuffer: [UInt8] = []
    private var last: FileName?
    private(set) var files: Int64 = 0
    private(set) var bytes: Int64 = 0

    /// - Parameter scratch: a directory of the root for the body (staging);
    ///   nil computes the digest and totals only.
    init(scratch: Directory?) throws {
        body = try scratch.map { try ScratchFile(in: $0) }
        try body?.append(Manifest.header)
    }

    /// - Throws: `.failure` when entries do not come in strictly ascending
    ///   path order (a walk that broke the order the body promises).
    func append(_ e: Manifest.Entry) throws {
        if let last, compareBytes(last, e.path) >= 0 {
            throw TreesError(.failure, "manifest entries out of order: \(e.path.display) after \(last.display)",
                             hint: "This is a bug in trees; nothing was installed.")
        }
        last = e.path
        entryBuffer.removeAll(keepingCapacity: true)
        if let body {
            e.encode(into: &entryBuffer, format: Manifest.currentFormat)
            try body.append(entryBuffer)
        }
        guard e.path != Manifest.rootPath else { return }
        if e.kind != UInt8(ascii: "d") { files += 1 }
        if e.kind == UInt8(ascii: "f") { bytes += e.size }
        e.encodeForDigest(into: &digestBuffer)
        if digestBuffer.count >= 1 << 16 {
            digestHasher?.update(digestBuffer)
            digestBuffer.removeAll(keepingCapacity: true)
        }
    }

    func finish() throws -> BuiltManifest {
        guard let hasher = digestHasher.take() else { preconditionFailure("a manifest finished twice") }
        hasher.update(digestBuffer)
        digestBuffer = []
        try body?.flush()
        return BuiltManifest(body: body, digest: "sha256:" + hasher.finish(), files: files, bytes: bytes)
    }
}

/// A manifest written to a scratch file by `ManifestWriter`: its totals and
/// digest in memory, its body on disk until the store has it.
struct BuiltManifest: StoredManifest {
    /// Nil when only the digest was wanted (`Manifest.predictedDigest`).
    let body: ScratchFile?
    let digest: String
    let files: Int64
    let bytes: Int64

    var encodedCount: Int { body?.count ?? 0 }

    func forEachEncodedChunk(_ each: (UnsafeRawBufferPointer) throws -> Void) throws {
        try body?.forEachChunk(each)
    }

    /// Each entry, in path order, read back from the body.
    func forEachEntry(_ each: (Manifest.Entry) throws -> Void) throws {
        var decoder = ManifestDecoder()
        try body?.forEachChunk { try decoder.feed($0, each) }
        guard decoder.finish() != nil else { throw TreesError(.failure, "a manifest written by this install does not read back") }
    }

    /// The whole manifest in memory: for the rare paths that compare two
    /// of them entry by entry (`SharedLinker.sameContent`), and tests.
    func loaded() throws -> Manifest {
        var entries: [Manifest.Entry] = []
        try forEachEntry { entries.append($0) }
        return Manifest(entries: entries)
    }
}

/// Manifest order (bytes, then the shorter first) of two paths.
func compareBytes(_ a: FileName, _ b: FileName) -> Int {
    a.withUnsafeBytes { x in b.withUnsafeBytes { y in compareBytes(x, y) } }
}
