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
        let context = ScanContext(locator: TreeLocator(rootPath: treesRoot, ownMountInfo: try? reader.mountInfo()), ownNamespace: reader.ownMountNamespace())
        var result = ProcScan(processes: [], unknown: [])
        if let hidden = hiddenProcesses(reader) { result.unknown.append(hidden) }
        for pid in try reader.processIDs().sorted() {
            let found = inspect(pid, reader: reader, context: context, matcher: &matcher)
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
