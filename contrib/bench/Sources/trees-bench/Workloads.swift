#if canImport(Glibc)
import Glibc
#endif

/// Deterministic pseudo-random bytes (xorshift64*): the same workload on
/// every run and every machine.
struct Noise {
    var state: UInt64
    mutating func next() -> UInt64 {
        state ^= state >> 12; state ^= state << 25; state ^= state >> 27
        return state &* 2685821657736338717
    }
    /// Text-like bytes for small files (they compress, as source does);
    /// random bytes for the large ones (they do not, as binaries barely do).
    mutating func fill(_ buffer: inout [UInt8], count: Int, text: Bool) {
        var i = 0
        while i < count {
            let v = next()
            for k in 0..<8 where i < count {
                let b = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k)))
                buffer[i] = text ? (b % 29 == 0 ? 10 : 97 + b % 26) : b
                i += 1
            }
        }
    }
}

func makeDirectories(_ path: String) throws {
    var built = ""
    for part in path.split(separator: "/") {
        built += "/" + part
        if mkdir(built, 0o755) != 0 && errno != EEXIST {
            throw BenchError("mkdir \(built): \(String(cString: strerror(errno)))")
        }
    }
}

func writeFile(_ path: String, _ bytes: ArraySlice<UInt8>, mode: mode_t = 0o644) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { throw BenchError("create \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var offset = bytes.startIndex
    while offset < bytes.endIndex {
        let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue }; throw BenchError("write \(path): \(String(cString: strerror(errno)))") }
        offset += n
    }
}

/// The generated tree: `files` files in `files / 25` directories, two levels
/// deep; most between 1 and 7 KiB of text, one in 2,500 a 4 MiB binary
/// (50,000 files: 2,000 directories, about 250 MB).
///
/// `small` (the scale series): every file 1–4 KiB of text and no binaries,
/// so a million files are about 2.5 GB of data (4 GB of 4 KiB blocks) and
/// the series measures per-file cost, not bytes.
struct GeneratedTree {
    let files: Int
    var small = false
    var directories: Int { max(1, files / 25) }
    var largeEvery: Int { 2500 }

    func isLarge(_ i: Int) -> Bool { !small && i % largeEvery == 7 }

    func path(of i: Int) -> String {
        let d = i % directories
        return "d\(d / 50)/d\(d)/f\(i)\(isLarge(i) ? ".bin" : ".txt")"
    }

    func size(of i: Int) -> Int {
        isLarge(i) ? 4 << 20 : 1024 + (i &* 7919) % ((small ? 3 : 6) * 1024)
    }

    func write(to root: String, seed: UInt64 = 1) throws -> Int64 {
        var noise = Noise(state: 0x9e3779b97f4a7c15 &+ seed)
        var buffer = [UInt8](repeating: 0, count: 4 << 20)
        var made = Set<Int>()
        var total: Int64 = 0
        for i in 0..<files {
            let d = i % directories
            if made.insert(d).inserted { try makeDirectories("\(root)/d\(d / 50)/d\(d)") }
            let n = size(of: i)
            noise.fill(&buffer, count: n, text: n < 1 << 20)
            try writeFile("\(root)/\(path(of: i))", buffer[0..<n])
            total += Int64(n)
        }
        return total
    }

    /// Rewrites one file in a hundred (a new revision: 1% changed).
    func change(in root: String) throws -> Int {
        var noise = Noise(state: 0xabcdef)
        var buffer = [UInt8](repeating: 0, count: 4 << 20)
        var changed = 0
        for i in stride(from: 3, to: files, by: 100) {
            let n = size(of: i)
            noise.fill(&buffer, count: n, text: n < 1 << 20)
            let p = "\(root)/\(path(of: i))"
            unlink(p)   // a new inode, as a build or checkout writes it
            try writeFile(p, buffer[0..<n])
            changed += 1
        }
        return changed
    }
}

/// Bytes of the tree at `path` not shared with any other path (st_nlink 1),
/// and all bytes: how much disk a revision added.
func ownAndTotalBytes(_ path: String) -> (own: Int64, total: Int64) {
    var own: Int64 = 0, total: Int64 = 0
    func walk(_ p: String) {
        guard let dir = opendir(p) else { return }
        defer { closedir(dir) }
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name == "." || name == ".." { continue }
            var st = stat()
            let child = p + "/" + name
            guard lstat(child, &st) == 0 else { continue }
            if (st.st_mode & S_IFMT) == S_IFDIR { walk(child); continue }
            let bytes = Int64(st.st_blocks) * 512
            total += bytes
            if st.st_nlink == 1 { own += bytes }
        }
    }
    walk(path)
    return (own, total)
}
