#if canImport(Glibc)
import Glibc
#endif
import CTreesShim

/// Copies a source directory into staging, fd-relatively on both sides.
struct DirectoryCopier {
    var tally = Progress(phase: "copying", files: 0, bytes: 0)
    let progress: ProgressHandler?

    mutating func copy(from src: Directory, to dst: Directory) throws {
        for entry in try src.entries() {
            let st = try src.status(entry.name)
            let perm = mode_t(st.st_mode & 0o7777 & ~0o6022)
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                try dst.makeDirectory(entry.name, mode: 0o700)
                let child = try dst.openDirectory(entry.name)
                try copy(from: try src.openDirectory(entry.name), to: child)
                try syscall("cannot set mode of", child.path) { fchmod(child.fd, perm | 0o700) }
            case S_IFREG:
                try copyFile(entry.name, from: src, to: dst, mode: perm | 0o600)
            case S_IFLNK:
                let target = try src.readLink(entry.name)
                try syscall("cannot create symlink", dst.child(entry.name)) {
                    target.withCName { t in entry.name.withCName { symlinkat(t, dst.fd, $0) } }
                }
                tally.files += 1
            default:
                throw TreesError(.badInput, "source holds \(fileKind(st.st_mode)) at \(src.child(entry.name))",
                                 hint: "A tree holds only files, directories and symlinks; remove it from the source.")
            }
        }
    }

    private mutating func copyFile(_ name: FileName, from src: Directory, to dst: Directory, mode: mode_t) throws {
        let input = try src.openFile(name)
        let outFD = try syscall("cannot create", dst.child(name)) {
            name.withCName { openat(dst.fd, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode) }
        }
        let output = FileDescriptor(outFD)
        try copyContents(from: input.raw, to: output.raw, path: dst.child(name))
        try syscall("cannot set mode of", dst.child(name)) { fchmod(output.raw, mode) }
        tally.files += 1
        if tally.files % 256 == 0 { progress?(tally) }
    }

    /// `copy_file_range(2)` (reflinks or in-kernel copy where possible), with
    /// a read/write loop where the kernel or filesystem does not support it.
    private mutating func copyContents(from input: Int32, to output: Int32, path: String) throws {
        while true {
            let n = retryingEINTR { CT_copy_file_range(input, output, 1 << 30) }
            if n > 0 { tally.bytes += Int64(n); continue }
            if n == 0 { return }
            let err = errno
            if err == EXDEV || err == ENOSYS || err == EINVAL || err == EOPNOTSUPP { break }
            throw TreesError.system("cannot copy into", path, errno: err)
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 18)
        while true {
            let n = try buffer.withUnsafeMutableBytes { buf in
                try syscall("cannot read source for", path) { read(input, buf.baseAddress, buf.count) }
            }
            if n == 0 { return }
            try writeAll(output, buffer, count: n, path: path)
            tally.bytes += Int64(n)
        }
    }
}

/// Writes `count` bytes of `buffer`, continuing after short writes.
func writeAll(_ fd: Int32, _ buffer: [UInt8], count: Int, path: String) throws {
    var offset = 0
    while offset < count {
        let w = try buffer.withUnsafeBytes { buf in
            try syscall("cannot write", path) { write(fd, buf.baseAddress! + offset, count - offset) }
        }
        offset += w
    }
}

func fileKind(_ mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFCHR: return "a character device"
    case S_IFBLK: return "a block device"
    case S_IFIFO: return "a FIFO"
    case S_IFSOCK: return "a socket"
    default: return "an unsupported file type"
    }
}
