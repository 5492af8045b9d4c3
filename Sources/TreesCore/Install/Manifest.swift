#if canImport(Glibc)
import Glibc
#endif
import CTreesShim

/// What a tree holds, entry by entry: the content digest over it, and what
/// `verify` compares (type, content, every mode bit, owner).
///
/// Format 2 (written since trees recorded modes and owners) starts with
/// `trees-manifest\0002\0` and encodes each entry as seven NUL-terminated
/// fields — kind, mode (octal, all of 07777), uid, gid, size, value (a
/// file's SHA-256 or a symlink's target), relative path — in byte order of
/// path, with the tree's own directory as path `.`. Format 1 (older trees)
/// has no header and five fields: kind, mode (read and execute bits only),
/// size, value, path; it is still read.
///
/// The digest is the same for both: the SHA-256 of the format-1 encoding of
/// every entry but `.`. It names content (what a re-install must match), so
/// it leaves out owners and write bits, which depend on who installs and
/// which trees strip anyway.
public struct Manifest: Sendable, Equatable, StoredManifest {
    public struct Entry: Sendable, Equatable {
        /// `d` directory, `f` regular file, `l` symlink, `o` other (never
        /// installed, but reported by verify), `m` a mount point not crossed.
        public var kind: UInt8
        /// All of 07777 in format 2; only the 0555 bits in format 1.
        public var mode: UInt32
        public var size: Int64
        public var value: [UInt8]
        public var path: FileName
        /// Owner, recorded from format 2 on (nil in format 1).
        public var uid: UInt32?
        public var gid: UInt32?

        public init(kind: UInt8, mode: UInt32, size: Int64, value: [UInt8], path: FileName, uid: UInt32? = nil, gid: UInt32? = nil) {
            self.kind = kind
            self.mode = mode
            self.size = size
            self.value = value
            self.path = path
            self.uid = uid
            self.gid = gid
        }

        /// Its fields as the stored body holds them (see `Manifest`).
        func encode(into out: inout [UInt8], format: Int) {
            out.append(kind); out.append(0)
            out += String(mode, radix: 8).utf8; out.append(0)
            if format >= 2 {
                out += String(uid ?? 0).utf8; out.append(0)
                out += String(gid ?? 0).utf8; out.append(0)
            }
            out += String(size).utf8; out.append(0)
            out += value; out.append(0)
            out += path; out.append(0)
        }

        /// Its fields as the digest covers them: format 1, read and execute bits.
        func encodeForDigest(into out: inout [UInt8]) {
            out.append(kind); out.append(0)
            out += String(mode & 0o555, radix: 8).utf8; out.append(0)
            out += String(size).utf8; out.append(0)
            out += value; out.append(0)
            out += path; out.append(0)
        }
    }

    public static let currentFormat = 2
    static let header: [UInt8] = Array("trees-manifest".utf8) + [0] + Array("2".utf8) + [0]
    static let rootPath: FileName = [0x2e]

    public private(set) var entries: [Entry]
    public let format: Int

    public init(entries: [Entry], format: Int = Manifest.currentFormat) {
        self.entries = entries.sorted { $0.path.lexicographicallyPrecedes($1.path) }
        self.format = format
    }

    private var contentEntries: [Entry] { entries.filter { $0.path != Self.rootPath } }

    public var files: Int64 { Int64(contentEntries.filter { $0.kind != UInt8(ascii: "d") }.count) }
    public var bytes: Int64 { entries.reduce(0) { $0 + ($1.kind == UInt8(ascii: "f") ? $1.size : 0) } }

    public var encoded: [UInt8] {
        var out: [UInt8] = format >= 2 ? Self.header : []
        for e in format >= 2 ? entries : contentEntries { e.encode(into: &out, format: format) }
        return out
    }

    public var encodedCount: Int { encoded.count }

    public func forEachEncodedChunk(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try encoded.withUnsafeBytes(body)
    }

    public var digest: String {
        var out: [UInt8] = []
        for e in contentEntries { e.encodeForDigest(into: &out) }
        return "sha256:" + SHA256.hash(out)
    }

    public static func decode(_ bytes: [UInt8]) -> Manifest? {
        var decoder = ManifestDecoder()
        var entries: [Entry] = []
        let fed = bytes.withUnsafeBytes { raw in (try? decoder.feed(raw) { entries.append($0) }) != nil }
        guard fed, let format = decoder.finish() else { return nil }
        return Manifest(entries: entries, format: format)
    }

    /// Paths that differ between `self` (expected) and `actual`, each with a
    /// reason, paths escaped for one line each (`escaped`). `actual` is a
    /// format-2 manifest of the tree as it is now. Against a format-1 record,
    /// whose modes hold only read and execute bits, any write, setuid or
    /// setgid bit is a change too (install never leaves one), and owners
    /// are not compared.
    public func differences(to actual: Manifest) -> [String] {
        var diff = ManifestDiff(format: format)
        var i = entries.startIndex
        for a in actual.entries {
            while i < entries.endIndex, compareBytes(entries[i].path, a.path) < 0 { diff.removed(entries[i]); i += 1 }
            if i < entries.endIndex, entries[i].path == a.path {
                diff.compare(entries[i], a)
                i += 1
            } else {
                diff.compare(nil, a)
            }
        }
        for e in entries[i...] { diff.removed(e) }
        return diff.lines
    }

    static func octal(_ mode: UInt32) -> String {
        let digits = String(mode & 0o7777, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    static func kindName(_ kind: UInt8) -> String {
        switch kind {
        case UInt8(ascii: "d"): return "directory"
        case UInt8(ascii: "f"): return "file"
        case UInt8(ascii: "l"): return "symlink"
        case UInt8(ascii: "m"): return "mount point"
        default: return "special file"
        }
    }

    /// Walks `dir` fd-relatively and builds its manifest in memory: for
    /// small trees and tests. Installs, verify and doctor stream it
    /// (`write(of:…)`). With `seal`, each file and directory also loses its
    /// write, setuid and setgid bits (see `write`).
    /// - Throws: `.badInput` (65) when sealing a tree deeper than the limit;
    ///   without `seal` (verify), a deeper directory is recorded as `o`.
    public static func build(of dir: Directory, seal: Bool, progress: ProgressHandler? = nil) throws -> Manifest {
        var walker = Walker(pass: seal ? .seal : .record, device: try dir.status().st_dev, progress: progress)
        var entries: [Entry] = []
        try walker.walk(dir) { entries.append($0) }
        return Manifest(entries: entries)
    }

    /// Walks `dir` fd-relatively and writes its manifest, entry by entry, to
    /// a scratch file in `scratch` (nothing per entry stays in memory). With
    /// `.seal`, each file and directory also loses its write, setuid and
    /// setgid bits, so that one pass both records and finishes a staged tree
    /// (the manifest records the sealed modes); the caller makes it durable
    /// with one `syncfs(2)` (`syncTree`), not one fsync per file. `known`
    /// holds the hashes the copier or extractor computed while writing, so a
    /// staged file is not read a second time. Never follows a symlink, never
    /// descends into another filesystem, and never recurses: the walk keeps
    /// one open directory per level, at most `TreeLimits.maxDepth`.
    /// - Parameter sealsTop: with `.seal`, false leaves the top directory's
    ///   write bits for the installer to take off later (`Transit.seal`);
    ///   the manifest records it sealed all the same.
    static func write(of dir: Directory, pass: Walker.Pass, known: HashLedger.Lookup? = nil, scratch: Directory,
                      progress: ProgressHandler?, sealsTop: Bool = true) throws -> BuiltManifest {
        var walker = Walker(pass: pass, device: try dir.status().st_dev, known: known, progress: progress)
        walker.sealsTop = sealsTop
        let writer = try ManifestWriter(scratch: scratch)
        try walker.walk(dir) { try writer.append($0) }
        return try writer.finish()
    }

    /// The digest a copy of the source directory `dir` would get once
    /// installed, computed by reading it only: modes as `DirectoryCopier` and
    /// sealing would leave them. A re-install compares it with the recorded
    /// digest before writing anything.
    static func predictedDigest(ofSource dir: Directory, progress: ProgressHandler?) throws -> String {
        var walker = Walker(pass: .predictCopy, device: try dir.status().st_dev, progress: progress)
        let writer = try ManifestWriter(scratch: nil)
        try walker.walk(dir) { try writer.append($0) }
        return try writer.finish().digest
    }

    /// Makes a sealed tree durable: one `syncfs(2)` of its filesystem writes
    /// back every file, directory and entry in it (and reports a writeback
    /// error, Linux ≥ 5.8), where one `fsync` per file cost a device flush
    /// each. The tree's own directory is fsynced too, for kernels whose
    /// syncfs reports no error.
    static func syncTree(_ dir: Directory) throws {
        try syscall("cannot sync the filesystem of", dir.path) { CT_syncfs(dir.fd) }
        try dir.sync()
    }
}

/// The differences between an expected manifest and a tree as it is now,
/// fed pair by pair in path order (by `Manifest.differences` or by verify,
/// which streams both): one line per difference, paths escaped. Removed
/// paths come last, as a reader expects them after what changed.
struct ManifestDiff {
    /// The expected manifest's format: a format-1 record holds only read and
    /// execute bits and no owners, and has no entry for the top directory.
    let format: Int
    private var changed: [String] = []
    private var gone: [String] = []

    init(format: Int) { self.format = format }

    var lines: [String] { changed + gone }

    /// - Parameter expected: the recorded entry of `actual`'s path, or nil
    ///   when none was recorded.
    mutating func compare(_ expected: Manifest.Entry?, _ a: Manifest.Entry) {
        let shown = a.path.display
        let e: Manifest.Entry
        if let expected {
            e = expected
        } else if format < 2 && a.path == Manifest.rootPath {
            e = Manifest.Entry(kind: UInt8(ascii: "d"), mode: 0o555, size: 0, value: [], path: Manifest.rootPath)
        } else {
            changed.append("added: \(shown)")
            return
        }
        if e.kind != a.kind {
            changed.append("type changed: \(shown) \(Manifest.kindName(e.kind)) -> \(Manifest.kindName(a.kind))")
            return
        }
        if e.value != a.value || e.size != a.size { changed.append("modified: \(shown)") }
        if e.kind == UInt8(ascii: "l") { return }  // a symlink's own mode means nothing on Linux
        let modeChanged = format >= 2 ? e.mode != a.mode : (a.mode & 0o555 != e.mode || a.mode & 0o6222 != 0)
        if modeChanged { changed.append("mode changed: \(shown) \(Manifest.octal(e.mode)) -> \(Manifest.octal(a.mode))") }
        if format >= 2, let eu = e.uid, let eg = e.gid, eu != a.uid || eg != a.gid {
            changed.append("owner changed: \(shown) \(eu):\(eg) -> \(a.uid.map(String.init) ?? "?"):\(a.gid.map(String.init) ?? "?")")
        }
    }

    mutating func removed(_ e: Manifest.Entry) { gone.append("removed: \(e.path.display)") }
}
