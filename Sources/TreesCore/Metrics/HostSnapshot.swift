#if canImport(Glibc)
import Glibc
#endif

/// What this host holds at one instant: every installed tree, the current
/// revision of each name, the jobs on each tree (live leases and one /proc
/// pass), the processes that could not be inspected, and the counters.
/// `trees metrics` renders it for Prometheus, `trees status` for a person.
public struct HostSnapshot: Sendable {
    /// The root's path (canonical when the root exists): the `root` label.
    public var root: String
    public var trees: [TreeRecord]
    public var current: [TreeName: Rev]
    public var usage: UsageReport
    public var counters: [Counter: Int64]
    /// Trees a drain is ending the processes of right now.
    public var draining: Set<TreeRef>
    /// Turns a process's start time into unix seconds; nil when /proc/stat cannot be read.
    public var bootClock: ProcessProbe.BootClock?

    public init(root: String, trees: [TreeRecord], current: [TreeName: Rev], usage: UsageReport, counters: [Counter: Int64],
                draining: Set<TreeRef> = [], bootClock: ProcessProbe.BootClock? = nil) {
        self.root = root
        self.trees = trees
        self.current = current
        self.usage = usage
        self.counters = counters
        self.draining = draining
        self.bootClock = bootClock
    }

    /// Reads the database and scans /proc once.
    /// - Parameters:
    ///   - location: where the root is or would be (the `root` label when there is none).
    ///   - root: the root, or nil when none exists yet (an empty snapshot).
    ///   - scanner: the scanner to use (its `ignoredUnknownPIDs` set by the caller).
    public static func take(location: String, root: Root?, store: Store?, scanner: UsageScanner?) throws -> HostSnapshot {
        guard let root, let store else {
            return HostSnapshot(root: location, trees: [], current: [:], usage: UsageReport(holders: [], unknown: []),
                                counters: Dictionary(uniqueKeysWithValues: Counter.allCases.map { ($0, 0) }))
        }
        let trees = try store.trees()
        var current: [TreeName: Rev] = [:]
        for name in Set(trees.map(\.ref.name)) {
            if let rev = try root.currentRev(of: name) { current[name] = rev }
        }
        let scanner = scanner ?? UsageScanner(root: root, store: store)
        let usage = try scanner.scan()
        return HostSnapshot(root: root.path, trees: trees, current: current, usage: usage, counters: try store.counters(),
                            draining: try drainingTrees(store), bootClock: scanner.probe.bootClock())
    }

    /// The trees a drain is working on now.
    ///
    /// Trees whose drain is under way (`trees drain`): begun, not yet
    /// finished with nothing left running.
    static func drainingTrees(_ store: Store) throws -> Set<TreeRef> {
        Set(try store.drains().filter { try store.drain(of: $0)?.finishedAt == nil })
    }

    public func isCurrent(_ ref: TreeRef) -> Bool { current[ref.name] == ref.rev }

    /// Distinct processes running from `ref`.
    public func jobs(on ref: TreeRef) -> Int { usage.jobsByTree[ref] ?? 0 }

    /// The process that has run longest from any tree `matching` accepts,
    /// with its start in unix seconds (nil when the boot time is unknown).
    /// A kernel hold (a mount, a loop device) is no process and has no start.
    public func oldestJob(matching: (TreeRef) -> Bool) -> (holder: Holder, startedAt: Int64?)? {
        usage.holders.filter { !$0.isKernelHold && matching($0.tree) }
            .min { $0.startTime < $1.startTime }
            .map { ($0, bootClock?.startedAt($0.startTime)) }
    }
}
