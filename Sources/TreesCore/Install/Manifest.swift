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
        for e in format >= 2 ? entries : contentEntries {
            var fields: [[UInt8]] = [[e.kind], Array(String(e.mode, radix: 8).utf8)]
            if format >= 2 { fields += [Array(String(e.uid ?? 0).utf8), Array(String(e.gid ?? 0).utf8)] }
            fields += [Array(String(e.size).utf8), e.value, e.path]
            for f in fields { out += f; out.append(0) }
        }
        return out
    }

    public var digest: String {
        var out: [UInt8] = []
        for e in contentEntries {
            out.append(e.kind); out.append(0)
            out += Array(String(e.mode & 0o555, radix: 8).utf8); out.append(0)
            out += Array(String(e.size).utf8); out.append(0)
            out += e.value; out.append(0)
            out += e.path; out.append(0)
        }
        return "sha256:" + SHA256.hash(out)
    }

    public static func decode(_ bytes: [UInt8]) -> Manifest? {
        let format2 = bytes.starts(with: header)
        let body = format2 ? Array(bytes[header.count...]) : bytes
        let width = format2 ? 7 : 5
        let fields = body.split(separator: 0, omittingEmptySubsequences: false)
        // A trailing NUL leaves one empty field at the end.
        guard fields.count % width == 1, fields.last?.isEmpty == true else { return nil }
        func number<T: FixedWidthInteger>(_ f: ArraySlice<UInt8>, radix: Int = 10) -> T? {
            T(String(decoding: f, as: UTF8.self), radix: radix)
        }
        var entries: [Entry] = []
        var i = 0
        while i + width <= fields.count {
            let f = Array(fields[i..<(i + width)])
            guard f[0].count == 1, let kind = f[0].first, let mode: UInt32 = number(f[1], radix: 8) else { return nil }
            if format2 {
                guard let uid: UInt32 = number(f[2]), let gid: UInt32 = number(f[3]), let size: Int64 = number(f[4]) else { return nil }
                entries.append(Entry(kind: kind, mode: mode, size: size, value: Array(f[5]), path: Array(f[6]), uid: uid, gid: gid))
            } else {
                guard let size: Int64 = number(f[2]) else { return nil }
                entries.append(Entry(kind: kind, mode: mode, size: size, value: Array(f[3]), path: Array(f[4])))
            }
            i += width
        }
        return Manifest(entries: entries, format: format2 ? 2 : 1)
    }

    /// Paths that differ between `self` (expected) and `actual`, each with a
    /// reason, paths escaped for one line each (`escaped`). `actual` is a
    /// format-2 manifest of the tree as it is now. Against a format-1 record,
    /// whose modes hold only read and execute bits, any write, setuid or
    /// setgid bit is a change too (install never leaves one), and owners
    /// are not compared.
    public func differences(to actual: Manifest) -> [String] {
        var expected: [FileName: Entry] = [:]
        for e in entries { expected[e.path] = e }
        if format < 2 && expected[Self.rootPath] == nil {
            expected[Self.rootPath] = Entry(kind: UInt8(ascii: "d"), mode: 0o555, size: 0, value: [], path: Self.rootPath)
        }
        var out: [String] = []
        var seen = Set<FileName>()
        for a in actual.entries {
            seen.insert(a.path)
            let shown = a.path.display
            guard let e = expected[a.path] else { out.append("added: \(shown)"); continue }
            if e.kind != a.kind {
                out.append("type changed: \(shown) \(Self.kindName(e.kind)) -> \(Self.kindName(a.kind))")
                continue
            }
            if e.value != a.value || e.size != a.size { out.append("modified: \(shown)") }
            if e.kind == UInt8(ascii: "l") { continue }  // a symlink's own mode means nothing on Linux
            let modeChanged = format >= 2 ? e.mode != a.mode : (a.mode & 0o555 != e.mode || a.mode & 0o6222 != 0)
            if modeChanged { out.append("mode changed: \(shown) \(Self.octal(e.mode)) -> \(Self.octal(a.mode))") }
            if format >= 2, let eu = e.uid, let eg = e.gid, eu != a.uid || eg != a.gid {
                out.append("owner changed: \(shown) \(eu):\(eg) -> \(a.uid.map(String.init) ?? "?"):\(a.gid.map(String.init) ?? "?")")
            }
        }
        for e in entries where !seen.contains(e.path) { out.append("removed: \(e.path.display)") }
        return out
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

    /// Walks `dir` fd-relatively and builds its manifest. With `seal`, each
    /// file and directory also loses its write, setuid and setgid bits, so
    /// that one pass both records and finishes a staged tree (the manifest
    /// records the sealed modes); the caller makes it durable with one
    /// `syncfs(2)` (`syncTree`), not one fsync per file. `known` holds the
    /// hashes the copier or extractor computed while writing (path → SHA-256,
    /// size), so a staged file is not read a second time. Never follows a symlink, never
    /// descends into another filesystem, and never recurses: the walk keeps
    /// one open directory per level, at most `TreeLimits.maxDepth`.
    /// - Throws: `.badInput` (65) when sealing a tree deeper than the limit;
    ///   without `seal` (verify), a deeper directory is recorded as `o`.
    public static func build(of dir: Directory, seal: Bool, progress: ProgressHandler? = nil) throws -> Manifest {
        try build(of: dir, pass: seal ? .seal : .record, known: [:], progress: progress)
    }

    /// - Parameter sealsTop: with `.seal`, false leaves the top directory's
    ///   write bits for the installer to take off later (`Transit.seal`);
    ///   the manifest records it sealed all the same.
    static func build(of dir: Directory, pass: Walker.Pass, known: [FileName: FileHash], progress: ProgressHandler?,
                      sealsTop: Bool = true) throws -> Manifest {
        var walker = Walker(pass: pass, device: try dir.status().st_dev, known: known, progress: progress)
        walker.sealsTop = sealsTop
        try walker.walk(dir)
        return Manifest(entries: walker.entries)
    }

    /// The digest a copy of the source directory `dir` would get once
    /// installed, computed by reading it only: modes as `DirectoryCopier` and
    /// sealing would leave them. A re-install compares it with the recorded
    /// digest before writing anything.
    static func predictedDigest(ofSource dir: Directory, progress: ProgressHandler?) throws -> String {
        try build(of: dir, pass: .predictCopy, known: [:], progress: progress).digest
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
