#if canImport(Glibc)
import Glibc
#endif

/// Why a process counts as running from a tree, in the order `trees ps` lists them.
public enum EvidenceKind: String, Sendable, Encodable, CaseIterable, Comparable {
    case lease, exe, cwd, root, fd, maps, environ, cmdline, cgroup

    public static func < (a: EvidenceKind, b: EvidenceKind) -> Bool { a.rank < b.rank }
    private var rank: Int { EvidenceKind.allCases.firstIndex(of: self) ?? 0 }
}

/// A process that runs from at least one tree, and the evidence for each.
public struct ProcessEvidence: Sendable {
    public var pid: Int32
    public var startTime: UInt64
    /// The real uid from the `Uid:` line of `status`, nil if it could not be read.
    public var uid: UInt32?
    /// The arguments joined by spaces, or `[comm]` when there are none.
    /// For display only: nothing read from a process is ever run.
    public var command: String
    public var trees: [TreeRef: Set<EvidenceKind>]

    public init(pid: Int32, startTime: UInt64, uid: UInt32?, command: String, trees: [TreeRef: Set<EvidenceKind>]) {
        self.pid = pid
        self.startTime = startTime
        self.uid = uid
        self.command = command
        self.trees = trees
    }
}

/// A process whose trees could not be told, e.g. `environ: Permission denied`.
/// It might run from any tree, so consumers fail closed on it. Pid 0 stands
/// for processes that the proc mount hides altogether.
public struct UnknownProcess: Sendable {
    public var pid: Int32
    public var command: String
    public var reason: String

    public init(pid: Int32, command: String, reason: String) {
        self.pid = pid
        self.command = command
        self.reason = reason
    }
}

/// The result of one pass over /proc. A process some of whose files could
/// not be read is in `unknown`, and also in `processes` if the rest showed
/// evidence.
public struct ProcScan: Sendable {
    /// Processes with evidence for at least one tree, by pid.
    public var processes: [ProcessEvidence]
    public var unknown: [UnknownProcess]

    public init(processes: [ProcessEvidence], unknown: [UnknownProcess]) {
        self.processes = processes
        self.unknown = unknown
    }

    /// The processes running from `ref`.
    public func holders(of ref: TreeRef) -> [ProcessEvidence] {
        processes.filter { $0.trees[ref] != nil }
    }
}

/// Finds which processes run from which trees in one pass over /proc.
///
/// Attribution is by the shape of a path alone (`ROOT/NAME/REV/...` with a
/// valid NAME and REV), never by comparing against a list of trees, so one
/// pass serves every tree. Links are only read, never followed, and nothing
/// read from a process is used beyond matching paths.
public struct ProcScanner {
    public let treesRoot: String
    public let procRoot: String
    /// Turns `ROOT/NAME/current/...` (seen in command lines and environments)
    /// into a revision; without it such paths are not attributed.
    let currentResolver: ((TreeName) -> Rev?)?
    /// Whose view of /proc this is: `hidepid` hides nothing from root. A test seam.
    var effectiveUID: uid_t

    public init(treesRoot: String, procRoot: String = "/proc", currentResolver: ((TreeName) -> Rev?)? = nil) {
        self.treesRoot = treesRoot
        self.procRoot = procRoot
        self.currentResolver = currentResolver
        self.effectiveUID = geteuid()
    }

    /// Scans every process under `procRoot` once.
    /// - Throws: `.usage` when `treesRoot` is not absolute; `TreesError.system`
    ///   when `open(2)` or `readdir(3)` of `procRoot` fails.
    public func scan() throws -> ProcScan {
        try scan(using: SystemProcReader(procRoot: procRoot))
    }

    func scan(using reader: any ProcReader) throws -> ProcScan {
        guard treesRoot.hasPrefix("/") else {
            throw TreesError(.usage, "the trees root \(quoted(treesRoot)) is not an absolute path")
        }
        var matcher = ProcPathMatcher(roots: rootSpellings(), resolveCurrent: currentResolver)
        var result = ProcScan(processes: [], unknown: [])
        if let hidden = hiddenProcesses(reader) { result.unknown.append(hidden) }
        for pid in try reader.processIDs().sorted() {
            let found = inspect(pid, reader: reader, matcher: &matcher)
            if let evidence = found.evidence { result.processes.append(evidence) }
            if let unknown = found.unknown { result.unknown.append(unknown) }
        }
        return result
    }

    /// The root as given and as the kernel shows it: exe, cwd and maps show a
    /// symlinked root resolved, while a command line may use either spelling.
    func rootSpellings() -> [String] {
        var given = treesRoot
        while given.count > 1 && given.hasSuffix("/") { given.removeLast() }
        var roots = [given]
        if let real = canonicalPath(given), real != given { roots.append(real) }
        return roots
    }

    /// An entry for the processes that `hidepid` keeps from a non-root scan.
    func hiddenProcesses(_ reader: any ProcReader) -> UnknownProcess? {
        guard effectiveUID != 0 else { return nil }
        let info: [UInt8]
        do throws(ProcFileError) {
            info = try reader.mountInfo()
        } catch {
            // A fake proc root has no self/; a real one always does.
            if error.errno == ENOENT { return nil }
            return UnknownProcess(pid: 0, command: "", reason: "cannot check \(procRoot) for hidepid: \(error.problem)")
        }
        guard let value = ProcFS.hidepid(inMountInfo: info, mountPoint: canonicalPath(procRoot) ?? procRoot) else { return nil }
        return UnknownProcess(pid: 0, command: "",
                              reason: "\(procRoot) is mounted with hidepid=\(value): other users' processes are hidden; scan as root")
    }
}

// MARK: - One process

/// What one pid directory showed: evidence, a reason it is unknown, both or neither.
struct ProcInspection {
    var evidence: ProcessEvidence?
    var unknown: UnknownProcess?

    /// Gone, a kernel thread, or unrelated to any tree.
    static let skipped = ProcInspection()
}

/// Ends an inspection: the process exited while we looked.
private struct ProcessGone: Error {}

/// One process's findings so far.
private struct ProcessFindings {
    var trees: [TreeRef: Set<EvidenceKind>] = [:]
    /// What could not be read, and why: any entry makes the process unknown.
    var failures: [(file: String, problem: String)] = []

    mutating func add(_ ref: TreeRef?, _ kind: EvidenceKind) {
        if let ref { trees[ref, default: []].insert(kind) }
    }

    /// Runs one read. A process that is gone ends the inspection; any other
    /// failure is kept (it makes the process unknown) and yields nil.
    mutating func attempt<T>(_ body: () throws(ProcFileError) -> T) throws(ProcessGone) -> T? {
        do throws(ProcFileError) {
            return try body()
        } catch {
            if error.meansGone { throw ProcessGone() }
            record(error)
            return nil
        }
    }

    mutating func record(_ error: ProcFileError) {
        failures.append((error.file, error.problem))
    }

    /// `exe, cwd, fd: Permission denied; maps: Input/output error`. Every
    /// `fd/N` counts as `fd`: a denied process has hundreds of them.
    var reason: String {
        var problems: [String] = []
        var files: [String: [String]] = [:]
        for failure in failures {
            let file = failure.file.hasPrefix("fd/") ? "fd" : failure.file
            if files[failure.problem] == nil { problems.append(failure.problem) }
            if files[failure.problem]?.contains(file) != true { files[failure.problem, default: []].append(file) }
        }
        return problems.map { (files[$0] ?? []).joined(separator: ", ") + ": " + $0 }.joined(separator: "; ")
    }

    func result(pid: Int32, stat: ProcStat?, uid: () -> UInt32?, cmdline: [UInt8]) -> ProcInspection {
        guard !trees.isEmpty || !failures.isEmpty else { return .skipped }
        let command = ProcCommandLine.display(cmdline, comm: stat?.comm)
        var result = ProcInspection()
        if let stat, !trees.isEmpty {
            result.evidence = ProcessEvidence(pid: pid, startTime: stat.startTime, uid: uid(), command: command, trees: trees)
        }
        if !failures.isEmpty {
            result.unknown = UnknownProcess(pid: pid, command: command, reason: reason)
        }
        return result
    }
}

extension ProcScanner {
    /// Collects the evidence of one process. All reads go through one open
    /// pid directory, so a pid reused mid-scan reads as gone, not as a mix.
    func inspect(_ pid: Int32, reader: any ProcReader, matcher: inout ProcPathMatcher) -> ProcInspection {
        var found = ProcessFindings()
        do throws(ProcessGone) {
            guard let process = try found.attempt({ () throws(ProcFileError) in try reader.process(pid) }) else {
                return found.result(pid: pid, stat: nil, uid: { nil }, cmdline: [])
            }
            guard let statBytes = try found.attempt({ () throws(ProcFileError) in try process.read("stat") }) else {
                return found.result(pid: pid, stat: nil, uid: { nil }, cmdline: [])
            }
            guard let stat = ProcStat(statBytes[...]) else {
                found.failures.append(("stat", "cannot parse"))
                return found.result(pid: pid, stat: nil, uid: { nil }, cmdline: [])
            }
            // Read from stat, which anyone may read: a non-root scan gets
            // EACCES on a kernel thread's exe, and that must not make it unknown.
            if stat.isKernelThread { return .skipped }
            let uid = { () -> UInt32? in (try? process.read("status")).flatMap(ProcCommandLine.realUID(status:)) }
            var cmdline = try found.attempt({ () throws(ProcFileError) in try process.read("cmdline") }) ?? []
            var files = process
            var exe: [UInt8]?
            do throws(ProcFileError) {
                exe = try process.readLink("exe")
            } catch {
                if !error.meansGone {
                    found.record(error)
                } else {
                    // No exe and no arguments: a kernel thread, or a process
                    // that is exiting. Unless its main thread exited while
                    // others still run: their code and files live on, reachable
                    // through task/.
                    guard error.errno == ENOENT, cmdline.isEmpty, stat.threads > 1 else { return .skipped }
                    guard let thread = try liveThread(of: pid, in: process, found: &found) else {
                        return found.result(pid: pid, stat: stat, uid: uid, cmdline: cmdline)
                    }
                    files = thread
                    cmdline = try found.attempt({ () throws(ProcFileError) in try thread.read("cmdline") }) ?? []
                    exe = try found.attempt({ () throws(ProcFileError) in try thread.readLink("exe") })
                }
            }
            try inspectLinks(files, exe: exe, cmdline: cmdline, found: &found, matcher: &matcher)
            return found.result(pid: pid, stat: stat, uid: uid, cmdline: cmdline)
        } catch {
            return .skipped
        }
    }

    /// Everything after exe: cwd, root, fd, maps, environ, the arguments and the cgroup.
    private func inspectLinks(_ files: any ProcessFiles, exe: [UInt8]?, cmdline: [UInt8],
                              found: inout ProcessFindings, matcher: inout ProcPathMatcher) throws(ProcessGone) {
        if let exe { found.add(matcher.tree(ofKernelPath: exe[...]), .exe) }
        for (link, kind) in [("cwd", EvidenceKind.cwd), ("root", .root)] {
            if let target = try found.attempt({ () throws(ProcFileError) in try files.readLink(link) }) {
                found.add(matcher.tree(ofKernelPath: target[...]), kind)
            }
        }
        if let fds = try found.attempt({ () throws(ProcFileError) in try files.list("fd") }) {
            for fd in fds where !fd.isEmpty && fd.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
                do throws(ProcFileError) {
                    found.add(matcher.tree(ofKernelPath: try files.readLink("fd/" + fd)[...]), .fd)
                } catch {
                    // ENOENT here only means this descriptor was closed since the listing.
                    if error.errno == ESRCH { throw ProcessGone() }
                    if error.errno != ENOENT { found.record(error) }
                }
            }
        }
        if let maps = try found.attempt({ () throws(ProcFileError) in try files.read("maps") }) {
            ProcMaps.forEachPath(in: maps) { found.add(matcher.tree(ofKernelPath: $0), .maps) }
        }
        if let environ = try found.attempt({ () throws(ProcFileError) in try files.read("environ") }) {
            for ref in matcher.trees(inEnvironment: environ) { found.add(ref, .environ) }
        }
        for ref in matcher.trees(inText: cmdline[...]) { found.add(ref, .cmdline) }
        // A job cgroup (`trees exec --cgroup`) holds every descendant of the
        // job, whatever it did to its environment and directory. The name
        // is not tied to this root: see `Cgroup.tree(inProcCgroup:)`.
        do throws(ProcFileError) {
            found.add(Cgroup.tree(inProcCgroup: try files.read("cgroup")), .cgroup)
        } catch {
            if error.errno == ESRCH { throw ProcessGone() }
            // ENOENT: a kernel without cgroups, or a fixture without the file.
            if error.errno != ENOENT { found.record(error) }
        }
    }

    /// Another thread of `pid` to read through, when the main thread is gone.
    private func liveThread(of pid: Int32, in process: any ProcessFiles,
                            found: inout ProcessFindings) throws(ProcessGone) -> (any ProcessFiles)? {
        guard let tids = try found.attempt({ () throws(ProcFileError) in try process.list("task") }) else { return nil }
        for tid in tids where tid != String(pid) {
            do throws(ProcFileError) {
                return try process.subdirectory("task/" + tid)
            } catch {
                if !error.meansGone { found.record(error) }
            }
        }
        return nil
    }
}

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
