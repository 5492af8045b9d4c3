#if canImport(Glibc)
import Glibc
#endif
import CTreesShim

/// An unnamed file in a directory of the root (`O_TMPFILE`), written by
/// appending through a fixed buffer and read back at offsets: where a
/// per-file record of a tree (a manifest's body, the hashes computed while
/// copying, the dedup candidates) goes instead of memory, so an install of a
/// million files holds no more than an install of ten. It has no name, so a
/// killed process leaves nothing behind: the kernel frees it on the last close.
/// Its pages are written back only if the kernel wants the memory.
final class ScratchFile {
    private let descriptor: FileDescriptor
    private var pending: [UInt8] = []
    private let flushAt: Int
    /// Bytes appended so far (written or still in the buffer).
    private(set) var count: Int = 0
    let shown: String

    /// - Parameter dir: where the file lives (on the root's filesystem:
    ///   staging, so its blocks come from where the tree's do).
    init(in dir: Directory, bufferBytes: Int = 1 << 16) throws {
        shown = dir.path + "/(unnamed scratch file)"
        // O_TMPFILE (Linux ≥ 3.11) is __O_TMPFILE | O_DIRECTORY; Glibc's macro does not import.
        let tmpfile = Int32(0o20000000) | O_DIRECTORY
        var fd = openat(dir.fd, ".", tmpfile | O_RDWR | O_CLOEXEC, 0o600)
        if fd < 0 && [EOPNOTSUPP, EISDIR, EINVAL].contains(errno) {
            // A filesystem without O_TMPFILE: a named file, unlinked at once.
            var random: UInt64 = 0
            _ = CT_getrandom(&random, 8)
            let name = Array(".scratch.\(getpid()).\(String(random, radix: 36))".utf8)
            fd = name.withCName { openat(dir.fd, $0, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
            if fd >= 0 { _ = name.withCName { unlinkat(dir.fd, $0, 0) } }
        }
        guard fd >= 0 else { throw TreesError.system("cannot create a scratch file in", dir.path, errno: errno) }
        descriptor = FileDescriptor(fd)
        flushAt = bufferBytes
        pending.reserveCapacity(bufferBytes)
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        if pending.count + bytes.count > flushAt { try flush() }
        if bytes.count > flushAt {
            try writeOut(bytes)
        } else {
            pending.append(contentsOf: bytes)
        }
        count += bytes.count
    }

    func append(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try append($0) } }

    /// Writes out what the buffer holds; reads see every byte appended before.
    func flush() throws {
        guard !pending.isEmpty else { return }
        try pending.withUnsafeBytes { try writeOut($0) }
        pending.removeAll(keepingCapacity: true)
    }

    private var written: Int = 0

    private func writeOut(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = try syscall("cannot write", shown) {
                pwrite(descriptor.raw, bytes.baseAddress! + offset, bytes.count - offset, off_t(written + offset))
            }
            offset += n
        }
        written += bytes.count
    }

    /// Reads up to `buffer.count` bytes at `offset` (fewer only at the end).
    /// Call `flush` first.
    func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = try syscall("cannot read", shown) {
                pread(descriptor.raw, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Hands the bytes from `offset` on to `body` in chunks of at most `chunk` bytes.
    func forEachChunk(from offset: Int = 0, chunk: Int = 1 << 16, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try flush()
        var buffer = [UInt8](repeating: 0, count: chunk)
        var at = offset
        while at < count {
            let n = try buffer.withUnsafeMutableBytes { try read(at: at, into: $0) }
            if n == 0 { break }
            try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            at += n
        }
    }
}

/// Reads a region of a scratch file forward through a small buffer.
struct ScratchReader {
    let file: ScratchFile
    private(set) var offset: Int
    let end: Int
    private var buffer: [UInt8]
    private var start = 0
    private var filled = 0

    init(_ file: ScratchFile, from offset: Int, to end: Int, bufferBytes: Int = 1 << 16) {
        self.file = file
        self.offset = offset
        self.end = end
        buffer = [UInt8](repeating: 0, count: bufferBytes)
    }

    var atEnd: Bool { start == filled && offset >= end }

    /// The next `n` bytes, or nil at the end of the region (a record cut
    /// short by the end is an error of the writer, reported as the end).
    mutating func take(_ n: Int) throws -> ArraySlice<UInt8>? {
        if filled - start < n {
            guard try refill(atLeast: n) else { return nil }
        }
        defer { start += n }
        return buffer[start..<(start + n)]
    }

    private mutating func refill(atLeast n: Int) throws -> Bool {
        // Keep what is unread, then top up from the file.
        let rest = filled - start
        if rest > 0 { buffer.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: $0.baseAddress! + start, byteCount: rest) } }
        start = 0
        filled = rest
        if buffer.count < n { buffer += [UInt8](repeating: 0, count: n - buffer.count) }
        while filled < n && offset < end {
            let want = min(buffer.count - filled, end - offset)
            let got = try buffer.withUnsafeMutableBytes {
                try file.read(at: offset, into: UnsafeMutableRawBufferPointer(rebasing: $0[filled..<(filled + want)]))
            }
            if got == 0 { break }
            filled += got
            offset += got
        }
        return filled >= n
    }
}
