#if canImport(Glibc)
import Glibc
#endif

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
}

/// The files of one process (or one of its threads), by relative name.
protocol ProcessFiles {
    func read(_ file: String) throws(ProcFileError) -> [UInt8]
    /// The link's target as text; the link is never followed.
    func readLink(_ file: String) throws(ProcFileError) -> [UInt8]
    func list(_ directory: String) throws(ProcFileError) -> [String]
    func subdirectory(_ path: String) throws(ProcFileError) -> any ProcessFiles
}

/// Reads a real (or fixture) proc tree fd-relatively through `Directory`.
final class SystemProcReader: ProcReader {
    private let root: Directory
    /// One read buffer for the whole scan: /proc files are read whole, often.
    private let buffer = ProcReadBuffer()

    /// - Throws: `TreesError.system` when `open(2)` of `procRoot` fails.
    init(procRoot: String) throws {
        root = try Directory.open(procRoot)
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
        return try ProcFS.readToEnd(fd.raw, file: file, scratch: &buffer.bytes)
    }

    func readLink(_ file: String) throws(ProcFileError) -> [UInt8] {
        try ProcFileError.catching(file) { try directory.readLink(Array(file.utf8)) }
    }

    func list(_ name: String) throws(ProcFileError) -> [String] {
        try ProcFileError.catching(name) { try directory.openDirectory(name).entries().map(\.name.display) }
    }

    func subdirectory(_ path: String) throws(ProcFileError) -> any ProcessFiles {
        SystemProcessFiles(directory: try ProcFileError.catching(path) { try directory.openDirectory(path) }, buffer: buffer)
    }
}

extension ProcFileError {
    /// `strerror` of the errno, e.g. `Permission denied`.
    var problem: String { String(cString: strerror(errno)) }

    /// Runs a `Directory` call, keeping only the errno of its `TreesError`.
    static func catching<T>(_ file: String, _ body: () throws -> T) throws(ProcFileError) -> T {
        do {
            return try body()
        } catch let error as TreesError {
            throw ProcFileError(file: file, errno: error.errno ?? EIO)
        } catch {
            throw ProcFileError(file: file, errno: EIO)
        }
    }
}
