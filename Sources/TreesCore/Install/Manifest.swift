#if canImport(Glibc)
import Glibc
#endif

/// What a tree holds, entry by entry, and the content digest over it.
///
/// Each entry is encoded as five NUL-terminated fields — kind, mode, size,
/// value (a file's SHA-256 or a symlink's target), relative path — in
/// byte order of path; the digest is the SHA-256 of that encoding. Only the
/// read and execute bits of a mode count, since trees strip write bits.
public struct Manifest: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        /// `d` directory, `f` regular file, `l` symlink, `o` other (never
        /// installed, but reported by verify), `m` a mount point not crossed.
        public var kind: UInt8
        public var mode: UInt32
        public var size: Int64
        public var value: [UInt8]
        public var path: FileName
    }

    public private(set) var entries: [Entry]

    public init(entries: [Entry]) {
        self.entries = entries.sorted { $0.path.lexicographicallyPrecedes($1.path) }
    }

    public var files: Int64 { Int64(entries.filter { $0.kind != UInt8(ascii: "d") }.count) }
    public var bytes: Int64 { entries.reduce(0) { $0 + ($1.kind == UInt8(ascii: "f") ? $1.size : 0) } }

    public var encoded: [UInt8] {
        var out: [UInt8] = []
        for e in entries {
            out.append(e.kind); out.append(0)
            out += Array(String(e.mode, radix: 8).utf8); out.append(0)
            out += Array(String(e.size).utf8); out.append(0)
            out += e.value; out.append(0)
            out += e.path; out.append(0)
        }
        return out
    }

    public var digest: String { "sha256:" + SHA256.hash(encoded) }

    public static func decode(_ bytes: [UInt8]) -> Manifest? {
        let fields = bytes.split(separator: 0, omittingEmptySubsequences: false)
        // A trailing NUL leaves one empty field at the end.
        guard fields.count % 5 == 1, fields.last?.isEmpty == true else { return nil }
        var entries: [Entry] = []
        var i = 0
        while i + 5 <= fields.count {
            guard fields[i].count == 1,
                  let mode = UInt32(String(decoding: fields[i + 1], as: UTF8.self), radix: 8),
                  let size = Int64(String(decoding: fields[i + 2], as: UTF8.self)) else { return nil }
            entries.append(Entry(kind: fields[i].first!, mode: mode, size: size,
                                 value: Array(fields[i + 3]), path: Array(fields[i + 4])))
            i += 5
        }
        return Manifest(entries: entries)
    }

    /// Paths that differ between `self` (expected) and `actual`, each with a reason.
    public func differences(to actual: Manifest) -> [String] {
        var expected: [FileName: Entry] = [:]
        for e in entries { expected[e.path] = e }
        var out: [String] = []
        var seen = Set<FileName>()
        for a in actual.entries {
            seen.insert(a.path)
            guard let e = expected[a.path] else { out.append("added: \(a.path.display)"); continue }
            if e.kind != a.kind { out.append("type changed: \(a.path.display)") }
            else if e.value != a.value || e.size != a.size { out.append("modified: \(a.path.display)") }
            else if e.mode != a.mode { out.append("mode changed: \(a.path.display)") }
        }
        for e in entries where !seen.contains(e.path) { out.append("removed: \(e.path.display)") }
        return out
    }

    /// Walks `dir` fd-relatively and builds its manifest. With `seal`, each
    /// file and directory also loses its write bits and is fsynced, so that
    /// one pass both records and finishes a staged tree. Never follows a
    /// symlink and never descends into another filesystem.
    public static func build(of dir: Directory, seal: Bool, progress: ProgressHandler? = nil) throws -> Manifest {
        var walker = Walker(seal: seal, device: try dir.status().st_dev, progress: progress)
        try walker.walk(dir, prefix: [])
        if seal {
            try walker.sealDirectory(dir)
        }
        return Manifest(entries: walker.entries)
    }
}

private struct Walker {
    let seal: Bool
    let device: dev_t
    let progress: ProgressHandler?
    var entries: [Manifest.Entry] = []
    var tally = Progress(phase: "hashing", files: 0, bytes: 0)
    var buffer = [UInt8](repeating: 0, count: 1 << 18)

    init(seal: Bool, device: dev_t, progress: ProgressHandler?) {
        self.seal = seal
        self.device = device
        self.progress = progress
    }

    mutating func walk(_ dir: Directory, prefix: FileName) throws {
        for entry in try dir.entries() {
            let path = prefix.isEmpty ? entry.name : prefix + [0x2f] + entry.name
            let st = try dir.status(entry.name)
            let perm = UInt32(st.st_mode) & 0o555
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                if st.st_dev != device {
                    entries.append(.init(kind: UInt8(ascii: "m"), mode: 0, size: 0, value: [], path: path))
                    continue
                }
                entries.append(.init(kind: UInt8(ascii: "d"), mode: perm, size: 0, value: [], path: path))
                let child = try dir.openDirectory(entry.name)
                try walk(child, prefix: path)
                if seal { try sealDirectory(child) }
            case S_IFREG:
                let (hash, size) = try hashFile(dir, entry.name)
                entries.append(.init(kind: UInt8(ascii: "f"), mode: perm, size: size, value: Array(hash.utf8), path: path))
            case S_IFLNK:
                let target = try dir.readLink(entry.name)
                entries.append(.init(kind: UInt8(ascii: "l"), mode: 0, size: Int64(target.count), value: target, path: path))
                tally.files += 1
            default:
                entries.append(.init(kind: UInt8(ascii: "o"), mode: perm, size: 0, value: [], path: path))
            }
        }
    }

    mutating func hashFile(_ dir: Directory, _ name: FileName) throws -> (String, Int64) {
        let file = try dir.openFile(name)
        let path = dir.child(name)
        let hasher = SHA256()
        var size: Int64 = 0
        while true {
            let n = try buffer.withUnsafeMutableBytes { buf in
                try syscall("cannot read", path) { read(file.raw, buf.baseAddress, buf.count) }
            }
            if n == 0 { break }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            size += Int64(n)
            tally.bytes += Int64(n)
        }
        if seal {
            var st = stat()
            try syscall("cannot stat", path) { fstat(file.raw, &st) }
            try syscall("cannot make read-only", path) { fchmod(file.raw, st.st_mode & 0o7555 & ~0o6000) }
            try syscall("cannot sync", path) { fsync(file.raw) }
        }
        tally.files += 1
        if tally.files % 256 == 0 { progress?(tally) }
        return (hasher.finish(), size)
    }

    func sealDirectory(_ dir: Directory) throws {
        let st = try dir.status()
        try syscall("cannot make read-only", dir.path) { fchmod(dir.fd, st.st_mode & 0o7555 & ~0o6000) }
        try dir.sync()
    }
}
