#if canImport(Glibc)
import Glibc
#endif

/// One entry of a directory listing.
struct DirEntry {
    let name: FileName
    let type: UInt8
}

/// A directory opened by file descriptor. All work under it is done with the
/// `*at` calls relative to this descriptor and with `O_NOFOLLOW`, so nothing
/// follows a symlink out of the tree and no absolute path is rebuilt mid-walk.
public final class Directory: Sendable {
    let handle: FileDescriptor
    /// The path this directory was reached by, for messages only.
    public let path: String
    var fd: Int32 { handle.raw }

    init(fd: Int32, path: String) {
        handle = FileDescriptor(fd)
        self.path = path
    }

    /// Opens an absolute or relative path as a directory (following symlinks in
    /// `path` itself: the root given by the operator may be a symlink).
    public static func open(_ path: String) throws -> Directory {
        let fd = try syscall("cannot open directory", path) {
            Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        }
        return Directory(fd: fd, path: path)
    }

    func child(_ name: FileName) -> String {
        path.hasSuffix("/") ? path + name.display : path + "/" + name.display
    }

    /// Opens a subdirectory without following a symlink (`ELOOP`/`ENOTDIR` otherwise).
    func openDirectory(_ name: FileName) throws -> Directory {
        let fd = try syscall("cannot open directory", child(name)) {
            name.withCName { openat(self.fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        }
        return Directory(fd: fd, path: child(name))
    }

    func openDirectory(_ name: String) throws -> Directory { try openDirectory(Array(name.utf8)) }

    /// Opens a subdirectory, returning nil if it does not exist.
    func openDirectoryIfPresent(_ name: String) throws -> Directory? {
        do { return try openDirectory(name) } catch let e as TreesError where e.errno == .noSuchFileOrDirectory { return nil }
    }

    /// Creates a subdirectory; an existing real directory is accepted when `existingOK`.
    func makeDirectory(_ name: FileName, mode: mode_t = 0o755, existingOK: Bool = false) throws {
        let rc = retryingEINTR { name.withCName { mkdirat(fd, $0, mode) } }
        if rc == 0 { return }
        let err = errno
        if err == EEXIST && existingOK {
            let st = try status(name)
            if (st.st_mode & S_IFMT) == S_IFDIR { return }
            throw TreesError(.failure, "\(child(name)) exists and is not a directory",
                             hint: "Move it out of the way; trees only uses real directories here.")
        }
        throw TreesError.system("cannot create directory", child(name), errno: err)
    }

    func makeDirectory(_ name: String, mode: mode_t = 0o755, existingOK: Bool = false) throws {
        try makeDirectory(Array(name.utf8), mode: mode, existingOK: existingOK)
    }

    /// `fstatat` without following a symlink.
    func status(_ name: FileName) throws -> stat {
        var st = stat()
        try syscall("cannot stat", child(name)) {
            name.withCName { fstatat(fd, $0, &st, AT_SYMLINK_NOFOLLOW) }
        }
        return st
    }

    func status(_ name: String) throws -> stat { try status(Array(name.utf8)) }

    /// `fstat` of the directory itself.
    func status() throws -> stat {
        var st = stat()
        try syscall("cannot stat", path) { fstat(fd, &st) }
        return st
    }

    /// Whether `name` exists here (without following a symlink).
    func exists(_ name: String) throws -> Bool {
        do { _ = try status(name); return true } catch let e as TreesError where e.errno == .noSuchFileOrDirectory { return false }
    }

    /// Lists the entries, without `.` and `..`, in no particular order.
    func entries() throws -> [DirEntry] {
        // fdopendir takes ownership of its descriptor, so give it a duplicate
        // and rewind: the directory may have been listed before.
        let dupfd = try syscall("cannot read directory", path) { fcntl(fd, F_DUPFD_CLOEXEC, 0) }
        guard let dir = fdopendir(dupfd) else {
            let err = errno
            close(dupfd)
            throw TreesError.system("cannot read directory", path, errno: err)
        }
        defer { closedir(dir) }
        rewinddir(dir)
        var result: [DirEntry] = []
        while true {
            errno = 0
            guard let ent = readdir(dir) else {
                let err = errno
                if err != 0 { throw TreesError.system("cannot read directory", path, errno: err) }
                break
            }
            let name: FileName = withUnsafeBytes(of: ent.pointee.d_name) { raw in
                Array(raw.prefix(while: { $0 != 0 }))
            }
            if name == [0x2e] || name == [0x2e, 0x2e] { continue }
            result.append(DirEntry(name: name, type: ent.pointee.d_type))
        }
        return result
    }

    /// Reads a symlink's target without following it.
    func readLink(_ name: FileName) throws -> FileName {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = try syscall("cannot read symlink", child(name)) {
            name.withCName { cname in
                buffer.withUnsafeMutableBufferPointer { buf in
                    buf.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buf.count) {
                        readlinkat(fd, cname, $0, buf.count)
                    }
                }
            }
        }
        return Array(buffer[0..<n])
    }

    func readLink(_ name: String) throws -> String { try readLink(Array(name.utf8)).display }

    /// Opens a regular file for reading, refusing symlinks.
    func openFile(_ name: FileName, flags: Int32 = O_RDONLY) throws -> FileDescriptor {
        let fd = try syscall("cannot open", child(name)) {
            name.withCName { openat(self.fd, $0, flags | O_NOFOLLOW | O_CLOEXEC) }
        }
        return FileDescriptor(fd)
    }

    func sync() throws {
        try syscall("cannot sync", path) { fsync(fd) }
    }
}
