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
        let matcher = ProcPathMatcher(roots: rootSpellings(), resolveCurrent: currentResolver)
        let context = ScanContext(locator: TreeLocator(rootPath: treesRoot, ownMountInfo: try? reader.mountInfo()), ownNamespace: reader.ownMountNamespace())
        var result = ProcScan(processes: [], unknown: [])
        result.missingCapabilities = missingCapabilities
        if let hidden = hiddenProcesses(reader) { result.unknown.append(hidden) }
        let pids = try reader.processIDs().sorted()
        // The supervisor keeps a reader of its own: a worker's may be left
        // blocked in the kernel with the worker.
        let kernelFiles = reader.kernelFiles()
        let inspections = inspectAll(pids, reader: reader, context: context, matcher: matcher)
        var pending: [FileIdentity: [(process: Int, kind: EvidenceKind)]] = [:]
        var kernel = Set<KernelHold>()
        var kernelUnknown: [String] = []
        for found in inspections {
            if let evidence = found.evidence {
                for (identity, kind) in found.pending { pending[identity, default: []].append((result.processes.count, kind)) }
                result.processes.append(evidence)
            }
            if let unknown = found.unknown { result.unknown.append(unknown) }
            kernel.formUnion(found.kernel)
            kernelUnknown += found.kernelUnknown
        }
        // Loop devices and swap files, placed in the scanner's own view.
        var pendingKernel: [FileIdentity: [KernelFiles.File]] = [:]
        if let locator = context.locator, locator.isActive {
            for file in kernelFiles {
                switch locator.place(kernelFile: file) {
                case .tree(let tree?)?: kernel.insert(KernelHold(kind: file.kind, tree: tree, holder: file.holder))
                case .tree(nil)?: break
                case .search(let identity)?: pendingKernel[identity, default: []].append(file)
                case nil: kernelUnknown.append("\(file.holder): backing file \(String(decoding: file.path, as: UTF8.self)) cannot be found")
                }
            }
        }
        // One search of the trees for every inode no spelling could place.
        if let locator = context.locator, !pending.isEmpty || !pendingKernel.isEmpty {
            let holders = TreeInodeSearch(rootPath: treesRoot).run(for: Set(pending.keys).union(pendingKernel.keys), in: locator.allTrees)
            for (identity, trees) in holders {
                for (process, kind) in pending[identity] ?? [] {
                    for tree in trees { result.processes[process].trees[tree, default: []].insert(kind) }
                }
                for file in pendingKernel[identity] ?? [] {
                    for tree in trees { kernel.insert(KernelHold(kind: file.kind, tree: tree, holder: file.holder)) }
                }
            }
        }
        result.processes.removeAll { $0.trees.isEmpty }
        result.unknown += kernelUnknown.map { UnknownProcess(pid: 0, command: "", reason: $0) }
        result.kernel = kernel.sorted { ($0.tree.name.value, $0.tree.rev.value, $0.holder) < ($1.tree.name.value, $1.tree.rev.value, $1.holder) }
        return result
    }

    /// Below this many processes a second thread costs more than it saves
    /// (a parameter so that a test can make a small /proc take two threads).
    var parallelThreshold = 256

    /// How long one process's inspection may take before it is given up
    /// as unknown (a parameter so that a test can make it short).
    var inspectionDeadline = 2.0

    /// How long the whole pass may take: past it, every process not yet
    /// judged is unknown. Many processes each stalled on a FUSE file cannot
    /// add up to a scan (and a gc lock) held for minutes.
    var scanBudget = 10.0

    /// Inspects every pid on worker threads (two for a large /proc, one
    /// otherwise) while this thread watches them (`InspectionQueue`).
    /// Returns the inspections in pid order. Where no thread can be started
    /// the work is done here, without a watch.
    func inspectAll(_ pids: [Int32], reader: any ProcReader, context: ScanContext,
                    matcher: ProcPathMatcher) -> [ProcInspection] {
        let queue = InspectionQueue(count: pids.count)
        var unused: (any ProcReader)? = reader
        func startWorker() -> Bool {
            guard let workerReader = unused ?? (try? reader.forWorker()) ?? nil else { return false }
            unused = nil
            let workerContext = context.forWorker()
            let id = queue.register()
            let thread = WorkerThread {
                var matcher = matcher
                while let index = queue.take(worker: id) {
                    let found = self.inspect(pids[index], reader: workerReader, context: workerContext, matcher: &matcher)
                    guard queue.finish(worker: id, index: index, found) else { return }
                }
            }
            guard thread.start() else {
                queue.unregister(id)
                return false
            }
            thread.detach()
            return true
        }
        let wanted = workers > 1 && pids.count >= parallelThreshold ? 2 : 1
        var started = 0
        for _ in 0..<wanted where startWorker() { started += 1 }
        if started == 0 {
            var matcher = matcher
            let inline = unused ?? reader
            for index in queue.takeRemaining() { queue.store(index, inspect(pids[index], reader: inline, context: context, matcher: &matcher)) }
        }
        let deadline = inspectionDeadline
        let end = monotonicNow() + scanBudget
        while started > 0 {
            if monotonicNow() > end {
                queue.abandonAll { index in
                    ProcInspection(unknown: UnknownProcess(pid: pids[index], command: "",
                        reason: "not judged: the scan ran out of its \(Int(scanBudget)) s (processes blocked in the kernel)"))
                }
                break
            }
            let watch = queue.watch(deadline: deadline) { index in
                ProcInspection(unknown: UnknownProcess(pid: pids[index], command: "",
                    reason: "not judged within \(Int(deadline)) s: blocked in the kernel (a stalled FUSE or network file, or its memory map locked)"))
            }
            for _ in 0..<watch.abandoned { _ = startWorker() }
            if watch.done { break }
            if !queue.hasWorkers {
                for index in queue.takeRemaining() {
                    queue.store(index, ProcInspection(unknown: UnknownProcess(pid: pids[index], command: "",
                        reason: "not inspected: every scan thread was blocked")))
                }
                break
            }
            queue.wait(until: min(watch.nextCheck, end))
        }
        return queue.results.map { $0 ?? .skipped }
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

