#if canImport(Glibc)
import Glibc
#endif

/// Whole-file reads of the kernel's pseudo-files (/proc, /sys, cgroupfs),
/// which report a size of 0. Here, below every folder that reads them, so
/// that file locks (`/proc/locks`) and process inspection share one reader.
enum PseudoFile {
    /// Reads a whole file by path (following symlinks: used for the proc
    /// root's own files, never for a scanned process's links).
    static func read(_ path: String) throws(ProcFileError) -> [UInt8] {
        let fd = retryingEINTR { open(path, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { throw ProcFileError(file: path, errno: .current) }
        defer { close(fd) }
        var scratch = [UInt8](repeating: 0, count: 4096)
        return try readToEnd(fd, file: path, scratch: &scratch)
    }

    /// Reads an open file until `read(2)` returns 0: /proc files report a
    /// size of 0, so `fstat` cannot size the buffer.
    static func readToEnd(_ fd: Int32, file: String, scratch: inout [UInt8]) throws(ProcFileError) -> [UInt8] {
        var out: [UInt8] = []
        while true {
            let n = scratch.withUnsafeMutableBytes { buf in retryingEINTR { Glibc.read(fd, buf.baseAddress, buf.count) } }
            if n < 0 { throw ProcFileError(file: file, errno: .current) }
            if n == 0 { return out }
            out.append(contentsOf: scratch[0..<n])
        }
    }
}
