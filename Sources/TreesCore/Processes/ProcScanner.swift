#if canImport(Glibc)
import Glibc
#endif

/// Finds which processes run from which trees in one pass over /proc.
///
/// Two passes over what each process holds. The path pass attributes by
/// the shape of a path alone (`ROOT/NAME/REV/...` with a valid NAME and
/// REV); it is cheap, and the only pass over a fake proc root. What it
/// misses is resolved in the process's own view (`/proc/PID/root`, `cwd`)
/// and attributed by device and inode (`TreeLocator`), so a tree reached
/// through a bind mount, a symlinked root or another mount namespace counts
/// the same. Threads with their own cwd or file table are read too. Nothing
/// read from a process is used beyond resolving and matching paths.
public struct ProcScanner {
    public let treesRoot: String
    public let procRoot: String
    /// Turns `ROOT/NAME/current/...` (seen in command lines and environments)
    /// into a revision; without it such paths are not attributed.
    let currentResolver: ((TreeName) -> Rev?)?
    /// Whose view of /proc this is: `hidepid` hides nothing from root. A test seam.
    var effectiveUID: uid_t
    /// What this process lacks to read other users' processes
    /// (`ScanCapabilities`); empty for root. A test seam.
    var missingCapabilities: [String]
    var privileged: Bool { missingCapabilities.isEmpty }
    /// Threads inspecting processes: 2 splits a large /proc between two
    /// cores (most of a scan is the kernel formatting /proc files, which
    /// runs on the calling thread's core); 1 scans on the calling thread.
    public var workers = 2

    public init(treesRoot: String, procRoot: String = "/proc", currentResolver: ((TreeName) -> Rev?)? = nil) {
        self.treesRoot = treesRoot
        self.procRoot = procRoot
        self.currentResolver = currentResolver
        self.effectiveUID = geteuid()
        self.missingCapabilities = ScanCapabilities.missing(procRoot: procRoot)
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
        let context = ScanContext(locator: TreeLocator(rootPath: treesRoot, ownMountInfo: try? reader.mountInfo()), ownNamespace: reader.ownMountNamespace())
        var result = ProcScan(processes: [], unknown: [])
        result.missingCapabilities = missingCapabilities
        if let hidden = hiddenProcesses(reader) { result.unknown.append(hidden) }
        let pids = try reader.processIDs().sorted()
        let inspections: [ProcInspection]
        if workers > 1, pids.count >= parallelThreshold, let second = try? reader.forWorker() {
            inspections = inspectInTwo(pids, first: (reader, context, matcher),
                                       second: (second, context.forWorker(), matcher))
        } else {
            inspections = pids.map { inspect($0, reader: reader, context: context, matcher: &matcher) }
        }
        for found in inspections {
            if let evidence = found.evidence { result.processes.append(evidence) }
            if let unknown = found.unknown { result.unknown.append(unknown) }
        }
        return result
    }

    /// Below this many processes a second thread costs more than it saves
    /// (a parameter so that a test can make a small /proc take two threads).
    var parallelThreshold = 256

    /// Inspects even-indexed pids on this thread and odd-indexed ones on a
    /// second, each with its own reader, caches and matcher (nothing is
    /// shared but the immutable trees), and returns the inspections in pid
    /// order. Interleaving keeps the halves alike: pids near each other are
    /// often alike (a pool of workers, a burst of jobs).
    private func inspectInTwo(_ pids: [Int32],
                              first: (any ProcReader, ScanContext, ProcPathMatcher),
                              second: (any ProcReader, ScanContext, ProcPathMatcher)) -> [ProcInspection] {
        let other = WorkerResult()
        let worker = WorkerThread {
            var matcher = second.2
            var found: [ProcInspection] = []
            found.reserveCapacity(pids.count / 2)
            for index in stride(from: 1, to: pids.count, by: 2) {
                found.append(self.inspect(pids[index], reader: second.0, context: second.1, matcher: &matcher))
            }
            other.inspections = found
        }
        let started = worker.start()
        var matcher = first.2
        var mine: [ProcInspection] = []
        mine.reserveCapacity((pids.count + 1) / 2)
        let step = started ? 2 : 1
        for index in stride(from: 0, to: pids.count, by: step) {
            mine.append(inspect(pids[index], reader: first.0, context: first.1, matcher: &matcher))
        }
        guard started else { return mine }
        worker.join()
        var merged: [ProcInspection] = []
        merged.reserveCapacity(pids.count)
        for index in 0..<mine.count {
            merged.append(mine[index])
            if index < other.inspections.count { merged.append(other.inspections[index]) }
        }
        return merged
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
            if error.errno == .noSuchFileOrDirectory { return nil }
            return UnknownProcess(pid: 0, command: "", reason: "cannot check \(procRoot) for hidepid: \(error.problem)")
        }
        guard let value = ProcFS.hidepid(inMountInfo: info, mountPoint: canonicalPath(procRoot) ?? procRoot) else { return nil }
        return UnknownProcess(pid: 0, command: "",
                              reason: "\(procRoot) is mounted with hidepid=\(value): other users' processes are hidden; scan as root")
    }
}

/// What the second worker found, read by the starter after `join`.
final class WorkerResult: @unchecked Sendable {
    var inspections: [ProcInspection] = []
}
