#if canImport(Glibc)
import Glibc
#endif
import CArchive
import CTreesShim

/// The archive's bytes as the tar reader gets them: decompressed here, once,
/// by the decoder that also checks the compressed stream, so checking and
/// extracting no longer decode the whole archive twice (one core's worth of
/// the old install; a separate pass read the whole stream first). The tar
/// reader alone would not check it all: it stops at the end-of-archive
/// blocks, and libarchive never checks the gzip trailer. So gzip is inflated
/// with zlib, which fails a
/// member whose CRC-32 or length does not match its trailer, and bytes after
/// the last member must be zeros; xz and zstd are decoded by libarchive
/// (format "raw"), whose decoders check what the format carries. Anything
/// else is handed over as it is (libarchive's own filters still see it).
///
/// The tar reader stops at its end-of-archive blocks, so `verdict` decodes
/// whatever it left to the end; its damage wins over any other error, as
/// when the whole stream was checked before the first write.
final class ArchiveSource {
    private enum Kind { case gzip, libarchive(OpaquePointer), plain }
    private let kind: Kind
    private let file: FileDescriptor
    private let path: String
    private let fail: (String) -> TreesError
    private var stream = z_stream()
    private var input = [UInt8](repeating: 0, count: 1 << 16)
    private var got = 0
    private var offset = 0
    private var inMember = true      // inside a gzip member (or expecting the first)
    private var padding = false      // past the last gzip member: only zeros allowed
    private let output: UnsafeMutableRawBufferPointer
    /// Set once: the stream ended cleanly (nil) or its damage.
    private var ended = false
    private(set) var damage: TreesError?

    /// Opens the archive and reads its magic; for xz and zstd, also the
    /// decoder's start. Errors here are thrown at once, as the check's were.
    init(path: String, fail: @escaping (String) -> TreesError) throws {
        self.path = path
        self.fail = fail
        let fd = try syscall("cannot open archive", path) { Glibc.open(path, O_RDONLY | O_CLOEXEC) }
        file = FileDescriptor(fd)
        var magic = [UInt8](repeating: 0, count: 6)
        let n = try magic.withUnsafeMutableBytes { buf in
            try syscall("cannot read archive", path) { pread(fd, buf.baseAddress, buf.count, 0) }
        }
        if n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
            // 15 + 16: a gzip wrapper only (no zlib or raw deflate).
            guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                throw TreesError(.failure, "cannot start a gzip decoder")
            }
            kind = .gzip
        } else if n >= 6 && magic == [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] || n >= 4 && Array(magic[0..<4]) == [0x28, 0xb5, 0x2f, 0xfd] {
            guard let archive = CT_archive_read_new() else {
                throw TreesError(.failure, "cannot allocate an archive reader")
            }
            func message() -> String { CT_archive_error_string(archive).map { String(cString: $0) } ?? "unknown error" }
            CT_archive_read_support_filter_xz(archive)
            CT_archive_read_support_filter_zstd(archive)
            CT_archive_read_support_format_raw(archive)
            var entry: OpaquePointer?
            var problem: TreesError?
            if CT_archive_read_open_filename(archive, path, 1 << 16) != ARCHIVE_OK {
                problem = fail("cannot read archive: \(message())")
            } else if CT_archive_read_next_header(archive, &entry) != ARCHIVE_OK {
                problem = fail("damaged archive: \(message())")
            }
            if let problem {
                CT_archive_read_free(archive)
                throw problem
            }
            kind = .libarchive(archive)
        } else {
            kind = .plain
        }
        output = .allocate(byteCount: 1 << 18, alignment: 16)
    }

    deinit {
        switch kind {
        case .gzip: inflateEnd(&stream)
        case .libarchive(let archive): CT_archive_read_free(archive)
        case .plain: break
        }
        output.deallocate()
    }

    /// Lets `archive` read through this source (`archive_read_open`).
    func open(_ archive: OpaquePointer) -> Int32 {
        CT_archive_read_open(archive, Unmanaged.passUnretained(self).toOpaque(), nil, { _, client, buffer in
            guard let client, let buffer else { return -1 }
            let source = Unmanaged<ArchiveSource>.fromOpaque(client).takeUnretainedValue()
            let n = source.read()
            buffer.pointee = UnsafeRawPointer(source.output.baseAddress)
            return n
        }, nil)
    }

    /// Decodes whatever is left to the end: the stream's damage, or nil.
    func verdict() -> TreesError? {
        while read() > 0 {}
        return damage
    }

    /// The next decoded bytes in `output`: their count, 0 at the clean end,
    /// -1 on damage (kept in `damage`).
    private func read() -> Int {
        if ended { return damage == nil ? 0 : -1 }
        do {
            let n: Int
            switch kind {
            case .gzip: n = try inflateNext()
            case .libarchive(let archive): n = try decodeNext(archive)
            case .plain:
                n = try syscall("cannot read archive", path) { Glibc.read(file.raw, output.baseAddress, output.count) }
            }
            if n == 0 { ended = true }
            return n
        } catch let error as TreesError {
            ended = true
            damage = error
            return -1
        } catch {
            ended = true
            damage = TreesError(.failure, "\(error)")
            return -1
        }
    }

    private func decodeNext(_ archive: OpaquePointer) throws -> Int {
        func message() -> String { CT_archive_error_string(archive).map { String(cString: $0) } ?? "unknown error" }
        let n = CT_archive_read_data(archive, output.baseAddress, output.count)
        if n < 0 { throw fail("damaged archive: \(message())") }
        if n == 0 && CT_archive_read_close(archive) != ARCHIVE_OK {
            throw fail("damaged archive: \(message())")
        }
        return n
    }

    /// Inflates the gzip members a buffer at a time.
    private func inflateNext() throws -> Int {
        while true {
            if offset == got {
                got = try input.withUnsafeMutableBytes { buf in
                    try syscall("cannot read archive", path) { Glibc.read(file.raw, buf.baseAddress, buf.count) }
                }
                offset = 0
                if got == 0 {
                    if inMember { throw fail("damaged archive: the gzip stream is truncated") }
                    return 0
                }
            }
            if padding {
                if input[offset..<got].contains(where: { $0 != 0 }) {
                    throw fail("damaged archive: data after the end of the gzip stream")
                }
                offset = got
                continue
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
                stream.next_in = inBuf.baseAddress! + offset
                stream.avail_in = UInt32(got - offset)
                stream.next_out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
                stream.avail_out = UInt32(output.count)
                return inflate(&stream, Z_NO_FLUSH)
            }
            offset = got - Int(stream.avail_in)
            let produced = output.count - Int(stream.avail_out)
            switch rc {
            case Z_OK, Z_BUF_ERROR:
                break
            case Z_STREAM_END:
                inMember = false
            default:
                let why = stream.msg.map { String(cString: $0) } ?? "error \(rc)"
                throw fail("damaged archive: gzip \(why)")
            }
            if produced > 0 { return produced }
        }
    }
}
