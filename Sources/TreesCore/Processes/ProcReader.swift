#if canImport(Glibc)
import Glibc
#endif
import CTreesShim

// MARK: - Reading /proc

/// Where the scanner reads /proc from: the real files, or, in tests, a
/// wrapper that injects failures root never sees (EACCES, ESRCH).
protocol ProcReader {
    /// The pids visible under the proc root.
    func processIDs() throws -> [Int32]
    /// Opens one process's directory; later reads all see that process.
    func process(_ pid: Int32) throws(ProcFileError) -> any ProcessFiles
    /// `self/mountinfo`, to look for `hidepid`.
    func mountInfo() throws(ProcFileError) -> [UInt8]
    /// Which tables thread `tid` of `pid` shares with it, by `kcmp(2)`; nil
    /// when that cannot be told (then every thread is read).
    func sharing(_ pid: Int32, thread tid: Int32) -> ThreadSharing?
    /// The scanner's own mount namespace (`self/ns/mnt`), nil for a fake proc root.
    func ownMountNamespace() -> [UInt8]?
    /// A reader of the same proc root for a second worker thread (its own
    /// descriptor and buffer), or nil when it cannot be used from another
    /// thread; then the scan stays on one thread.
    func forWorker() throws -> (any ProcReader)?
    /// Loop devices' backing files and swap files (`KernelFiles`); none for a fake proc root.
    func kernelFiles() -> [KernelFiles.File]
}

/// What a thread shares with its leader: `CLONE_FS` (cwd, root) and `CLONE_FILES`.
struct ThreadSharing: Equatable {
    var fs: Bool
    var files: Bool
}

extension ProcReader {
    func sharing(_ pid: Int32, thread tid: Int32) -> ThreadSharing? { nil }
    func ownMountNamespace() -> [UInt8]? { nil }
    func forWorker() throws -> (any ProcReader)? { nil }
    func kernelFiles() -> [KernelFiles.File] { [] }
}

/// The files of one process (or one of its threads), by relative name.
protocol ProcessFiles {
    func read(_ file: String) throws(ProcFileError) -> [UInt8]
    /// The link's target as text; the link is never followed.
    func readLink(_ file: String) throws(ProcFileError) -> [UInt8]
    func list(_ directory: String) throws(ProcFileError) -> [String]
    func subdirectory(_ path: String) throws(ProcFileError) -> any ProcessFiles
    /// An `O_PATH` descriptor for `path` relative to the process directory
    /// (`cwd`, `root/usr/lib`), resolved as the process sees it: through
    /// its root and mount namespace. Nil where there is nothing real to
    /// open (a fake proc root) or the open failed.
    func openPath(_ path: [UInt8], directory: Bool) -> Int32?
    /// What the link `link` (`exe`, `cwd`, `fd/3`) refers to, by identity;
    /// nil where there is nothing real behind it (a fake proc root) or
    /// `statx` failed.
    func reference(_ link: String) -> Reference?
    /// Each link in `directory` (`fd`) with what it refers to and its
    /// target, or why it could not be read; the target is read only where
    /// `needsPath` says so (a reference on a device without trees needs none).
    func readReferences(in directory: String, needsPath: (Reference?) -> Bool) throws(ProcFileError) -> [LinkReading]
}

/// One link of a listing: its name, the path it spells, what it is.
typealias LinkReading = (name: String, target: Result<[UInt8], ProcFileError>, reference: Reference?)

extension ProcessFiles {
    func openPath(_ path: [UInt8], directory: Bool) -> Int32? { nil }
    func reference(_ link: String) -> Reference? { nil }

    func readReferences(in directory: String, needsPath: (Reference?) -> Bool) throws(ProcFileError) -> [LinkReading] {
        try readLinks(in: directory).map { ($0.name, $0.target, reference(directory + "/" + $0.name)) }
    }

    /// Each link in `directory` (`fd`) with its target or why it could not
    /// be read. Throws when the directory itself cannot be listed.
    func readLinks(in directory: String) throws(ProcFileError) -> [(name: String, target: Result<[UInt8], ProcFileError>)] {
        try list(directory).map { name in
            do throws(ProcFileError) {
                return (name, .success(try readLink(directory + "/" + name)))
            } catch {
                return (name, .failure(error))
            }
        }
    }
}

/// Reads a real (or fixture) proc tree fd-relatively through `Directory`.
final class SystemProcReader: ProcReader {
    private let root: Directory
    /// Whether this is the live /proc, whose pids `kcmp` may be asked about.
    private let live: Bool
    /// One read buffer for the whole scan: /proc files are read whole, often.
    private let buffer = ProcReadBuffer()

    private let procRoot: String

    /// - Throws: `TreesError.system` when `open(2)` of `procRoot` fails.
    init(procRoot: String) throws {
        self.procRoot = procRoot
        root = try Directory.open(procRoot)
        live = canonicalPath(procRoot) == "/proc"
    }

    func forWorker() throws -> (any ProcReader)? { try SystemProcReader(procRoot: procRoot) }

    func kernelFiles() -> [KernelFiles.File] { live ? KernelFiles(procRoot: procRoot).files() : [] }

    func sharing(_ pid: Int32, thread tid: Int32) -> ThreadSharing? {
        guard live else { return nil }
        // Needs ptrace access to both (root has it); EPERM or ENOSYS: unknown.
        let fs = CT_kcmp(pid, tid, 3 /* KCMP_FS */, 0, 0)
        let files = CT_kcmp(pid, tid, 2 /* KCMP_FILES */, 0, 0)
        guard fs >= 0, files >= 0 else { return nil }
        return ThreadSharing(fs: fs == 0, files: files == 0)
    }

    func ownMountNamespace() -> [UInt8]? {
        guard live else { return nil }
        return try? root.readLink(Array("self/ns/mnt".utf8))
    }

    func processIDs() throws -> [Int32] {
        try root.entries().compactMap { entry in
            guard !entry.name.isEmpty, entry.name.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            return Int32(entry.name.display)
        }
    }

    func process(_ pid: Int32) throws(ProcFileError) -> any ProcessFiles {
        let name = String(pid)
        return SystemProcessFiles(directory: try ProcFileError.catching(name) { try root.openDirectory(name) }, buffer: buffer)
    }

    func mountInfo() throws(ProcFileError) -> [UInt8] {
        try SystemProcessFiles(directory: root, buffer: buffer).read("self/mountinfo")
    }
}

final class ProcReadBuffer {
    var bytes = [UInt8](repeating: 0, count: 1 << 16)
}

struct SystemProcessFiles: ProcessFiles {
    let directory: Directory
    let buffer: ProcReadBuffer

    func read(_ file: String) throws(ProcFileError) -> [UInt8] {
        let fd = try ProcFileError.catching(file) { try directory.openFile(Array(file.utf8)) }
        return try PseudoFile.readToEnd(fd.raw, file: file, scratch: &buffer.bytes)
    }

    func readLink(_ file: String) throws(ProcFileError) -> [UInt8] {
        try ProcFileError.catching(file) { try directory.readLink(Array(file.utf8)) }
    }

    /// Lists `fd/` or `task/` on a descriptor of its own that `fdopendir`
    /// takes over: `Directory.entries()` duplicates and rewinds (it may
    /// list a directory twice), three system calls a listing this saves.
    func list(_ name: String) throws(ProcFileError) -> [String] {
        try withListing(name) { _, names in names }
    }

    /// Each descriptor's path and, by `statx`, what it refers to. Both
    /// relative to the listed directory's own descriptor: `readlinkat(fd/,
    /// "3")` looks up one name where `readlinkat(PID/, "fd/3")` looks up
    /// two, for every descriptor of every process.
    func readReferences(in name: String, needsPath: (Reference?) -> Bool) throws(ProcFileError) -> [LinkReading] {
        try withListing(name) { fd, names in
            names.map { link in
                let reference = Reference(at: fd, link)
                guard needsPath(reference) else { return (link, .success([]), reference) }
                let n = link.withCString { readlinkat(fd, $0, &buffer.bytes, buffer.bytes.count) }
                guard n >= 0 else { return (link, .failure(ProcFileError(file: name + "/" + link, errno: .current)), reference) }
                guard n < buffer.bytes.count else {
                    return (link, .failure(ProcFileError(file: name + "/" + link, errno: .nameTooLong)), reference)
                }
                return (link, .success(Array(buffer.bytes[..<n])), reference)
            }
        }
    }

    func reference(_ link: String) -> Reference? { Reference(at: directory.fd, link) }

    private func withListing<T>(_ name: String, _ body: (Int32, [String]) -> T) throws(ProcFileError) -> T {
        let fd = retryingEINTR { name.withCString { openat(directory.fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) } }
        guard fd >= 0 else { throw ProcFileError(file: name, errno: .current) }
        guard let dir = fdopendir(fd) else {
            let err = errno
            close(fd)
            throw ProcFileError(file: name, errno: Errno(err))
        }
        defer { closedir(dir) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { throw ProcFileError(file: name, errno: .current) }
                return body(fd, names)
            }
            let text = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if text != "." && text != ".." { names.append(text) }
        }
    }

    func openPath(_ path: [UInt8], directory isDirectory: Bool) -> Int32? {
        let flags = openPathFlag | O_CLOEXEC | (isDirectory ? O_DIRECTORY : 0)
        let fd = retryingEINTR { (path + [0]).withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { c in c.baseAddress.map { openat(directory.fd, $0, flags) } ?? -1 } } }
        return fd >= 0 ? fd : nil
    }

    func subdirectory(_ path: String) throws(ProcFileError) -> any ProcessFiles {
        SystemProcessFiles(directory: try ProcFileError.catching(path) { try directory.openDirectory(path) }, buffer: buffer)
    }
}

extension ProcFileError {
    /// `strerror` of the errno, e.g. `Permission denied`.
    var problem: String { errno.description }

    /// Runs a `Directory` call, keeping only the errno of its `TreesError`.
    static func catching<T: ~Copyable>(_ file: String, _ body: () throws -> T) throws(ProcFileError) -> T {
        do {
            return try body()
        } catch let error as TreesError {
            throw ProcFileError(file: file, errno: error.errno ?? .ioError)
        } catch {
            throw ProcFileError(file: file, errno: .ioError)
        }
    }
}
