#if canImport(Glibc)
import Glibc
#endif

/// Writes a file for node_exporter's textfile collector so that a scrape
/// never sees half of it: a temporary file in the same directory (a name
/// not ending in `.prom`, which the collector ignores), written, fsynced,
/// then `renameat(2)` over the target and the directory fsynced.
public enum TextfileWriter {
    /// - Parameters:
    ///   - path: the target, which must end in `.prom` (the collector reads nothing else).
    ///   - contents: the exposition text.
    /// - Throws: `.badInput` (65) for a path not ending in `.prom`; a system
    ///   error (`openat`, `write`, `fsync`, `renameat`) with its errno otherwise.
    public static func write(_ contents: String, to path: String) throws {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let file = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard file.hasSuffix(".prom"), file.count > 5, !file.hasPrefix(".") else {
            throw TreesError(.badInput, "metrics textfile \(quoted(path)) must be a file name ending in .prom",
                             hint: "node_exporter's textfile collector reads only *.prom files, e.g. /var/lib/prometheus/node-exporter/trees.prom.")
        }
        let dir = try Directory.open(directory)
        let temporary = ".\(file).\(getpid()).tmp"
        _ = unlinkat(dir.fd, temporary, 0)
        let fd = try syscall("cannot create", "\(directory)/\(temporary)") {
            openat(dir.fd, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        }
        let handle = FileDescriptor(fd)
        do {
            let bytes = Array(contents.utf8)
            var offset = 0
            while offset < bytes.count {
                let n = try syscall("cannot write", "\(directory)/\(temporary)") {
                    bytes.withUnsafeBytes { buffer in
                        buffer.baseAddress.map { Glibc.write(handle.raw, $0 + offset, buffer.count - offset) } ?? 0
                    }
                }
                offset += n
            }
            _ = try syscall("cannot fsync", "\(directory)/\(temporary)") { fsync(handle.raw) }
            handle.close()
            _ = try syscall("cannot rename into place", path) { renameat(dir.fd, temporary, dir.fd, file) }
        } catch {
            _ = unlinkat(dir.fd, temporary, 0)
            throw error
        }
        _ = fsync(dir.fd)
    }
}
