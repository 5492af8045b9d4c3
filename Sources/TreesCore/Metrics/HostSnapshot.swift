#if canImport(Glibc)
import Glibc
#endif

/// What this host holds at one instant: every installed tree, the current
/// revision of each name, the jobs on each tree (live leases and one /proc
/// pass), the processes that could not be inspected, and the counters.
/// `trees metrics` renders it for Prometheus, `trees status` for a person.
public struct HostSnapshot: Sendable {
    public var trees: [TreeRecord]
    public var current: [TreeName: Rev]
    public var usage: UsageReport
    public var counters: [Counter: Int64]

    public init(trees: [TreeRecord], current: [TreeName: Rev], usage: UsageReport, counters: [Counter: Int64]) {
        self.trees = trees
        self.current = current
        self.usage = usage
        self.counters = counters
    }

    /// Reads the database and scans /proc once.
    /// - Parameters:
    ///   - root: the root, or nil when none exists yet (an empty snapshot).
    ///   - scanner: the scanner to use (its `ignoredUnknownPIDs` set by the caller).
    public static func take(root: Root?, store: Store?, scanner: UsageScanner?) throws -> HostSnapshot {
        guard let root, let store else {
            return HostSnapshot(trees: [], current: [:], usage: UsageReport(holders: [], unknown: []),
                                counters: Dictionary(uniqueKeysWithValues: Counter.allCases.map { ($0, 0) }))
        }
        let trees = try store.trees()
        var current: [TreeName: Rev] = [:]
        for name in Set(trees.map(\.ref.name)) {
            if let rev = try root.currentRev(of: name) { current[name] = rev }
        }
        let usage = try (scanner ?? UsageScanner(root: root, store: store)).scan()
        return HostSnapshot(trees: trees, current: current, usage: usage, counters: try store.counters())
    }

    public func isCurrent(_ ref: TreeRef) -> Bool { current[ref.name] == ref.rev }

    /// Distinct processes running from `ref`.
    public func jobs(on ref: TreeRef) -> Int { usage.jobsByTree[ref] ?? 0 }
}
