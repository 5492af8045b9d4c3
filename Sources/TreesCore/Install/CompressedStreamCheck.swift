#if canImport(Glibc)
import Glibc
#endif
import CArchive
import CTreesShim

/// Reads a compressed archive to its very end once, before anything is
/// extracted, so that every checksum the format carries is checked and a
/// damaged or truncated archive installs nothing.
///
/// Extraction alone cannot promise that: the tar reader stops at the
/// end-of-archive blocks, so the compressed stream's tail (where gzip keeps
/// its CRC-32 and length, xz and zstd their last checks) may never be
/// decoded, and libarchive never checks the gzip trailer at all. gzip is
/// therefore inflated with zlib, which checks every member's trailer; xz and
/// zstd are decoded to their end by libarchive, whose decoders check them.
struct CompressedStreamCheck {
    let path: String
    let fail: (String) -> TreesError

    func run() throws {
        let fd = try syscall("cannot open archive", path) { open(path, O_RDONLY | O_CLOEXEC) }
        let file = FileDescriptor(fd)
        var magic = [UInt8](repeating: 0, count: 6)
        let n = try magic.withUnsafeMutableBytes { buf in
            try syscall("cannot read archive", path) { pread(file.raw, buf.baseAddress, buf.count, 0) }
        }
        if n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
            try inflateGzip(file.raw)
        } else if n >= 6 && magic == [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] || n >= 4 && Array(magic[0..<4]) == [0x28, 0xb5, 0x2f, 0xfd] {
            try decodeToEnd()
        }
    }

    /// Inflates every gzip member; zlib fails a member whose CRC-32 or
    /// length does not match its trailer. Bytes after the last member must
    /// be zeros (tape padding), nothing else.
    private func inflateGzip(_ fd: Int32) throws {
        var stream = z_stream()
        // 15 + 16: a gzip wrapper only (no zlib or raw deflate).
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw TreesError(.failure, "cannot start a gzip decoder")
        }
        defer { inflateEnd(&stream) }
        var input = [UInt8](repeating: 0, count: 1 << 16)
        var output = [UInt8](repeating: 0, count: 1 << 18)
        var inMember = true      // inside a member (or expecting the first)
        var padding = false      // past the last member: only zeros allowed
        while true {
            let got = try input.withUnsafeMutableBytes { buf in
                try syscall("cannot read archive", path) { read(fd, buf.baseAddress, buf.count) }
            }
            if got == 0 { break }
            var offset = 0
            while offset < got {
                if padding {
                    if input[offset..<got].contains(where: { $0 != 0 }) {
                        throw fail("damaged archive: data after the end of the gzip stream")
                    }
                    break
                }
                if !inMember {
                    // Another member follows only if it starts with the gzip magic.
                    if input[offset] != 0x1f {
                        padding = true
                        continue
                    }
                    inflateReset(&stream)
                    inMember = true
                }
                let rc: Int32 = input.withUnsafeMutableBufferPointer { inBuf in
                    output.withUnsafeMutableBufferPointer { outBuf in
                        stream.next_in = inBuf.baseAddress! + offset
                        stream.avail_in = UInt32(got - offset)
                        stream.next_out = outBuf.baseAddress
                        stream.avail_out = UInt32(outBuf.count)
                        return inflate(&stream, Z_NO_FLUSH)
                    }
                }
                offset = got - Int(stream.avail_in)
                switch rc {
                case Z_OK, Z_BUF_ERROR:
                    continue
                case Z_STREAM_END:
                    inMember = false
                default:
                    let why = stream.msg.map { String(cString: $0) } ?? "error \(rc)"
                    throw fail("damaged archive: gzip \(why)")
                }
            }
        }
        if inMember {
            throw fail("damaged archive: the gzip stream is truncated")
        }
    }

    /// Decodes the whole compressed stream (format "raw": no tar parsing),
    /// so the decoder reaches the end and checks what the format carries.
    private func decodeToEnd() throws {
        guard let archive = CT_archive_read_new() else {
            throw TreesError(.failure, "cannot allocate an archive reader")
        }
        defer { CT_archive_read_free(archive) }
        CT_archive_read_support_filter_xz(archive)
        CT_archive_read_support_filter_zstd(archive)
        CT_archive_read_support_format_raw(archive)
        func message() -> String { CT_archive_error_string(archive).map { String(cString: $0) } ?? "unknown error" }
        guard CT_archive_read_open_filename(archive, path, 1 << 16) == ARCHIVE_OK else {
            throw fail("cannot read archive: \(message())")
        }
        var entry: OpaquePointer?
        guard CT_archive_read_next_header(archive, &entry) == ARCHIVE_OK else {
            throw fail("damaged archive: \(message())")
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 18)
        while true {
            let n = buffer.withUnsafeMutableBytes { CT_archive_read_data(archive, $0.baseAddress, $0.count) }
            if n == 0 { break }
            if n < 0 { throw fail("damaged archive: \(message())") }
        }
        if CT_archive_read_close(archive) != ARCHIVE_OK {
            throw fail("damaged archive: \(message())")
        }
    }
}
