#if canImport(Glibc)
import Glibc
#endif

/// Who runs from which tree, from live leases and one /proc pass together.
public struct UsageReport: Sendable {
    public var holders: [Holder]
    /// Processes that could not be inspected: every consumer fails closed on them.
    public var unknown: [UnknownProcess]
    /// Uninspectable processes the operator vouched for (`TREES_IGNORE_UNKNOWN_PIDS`):
    /// shown by ps, but they do not hold trees.
    public var ignoredUnknown: [UnknownProcess] = []

    public func holders(of ref: TreeRef) -> [Holder] { holders.filter { $0.tree == ref } }

    /// Distinct pids per tree, for `list`'s jobs column.
    public var jobsByTree: [TreeRef: Int] {
        var pids: [TreeRef: Set<Int32>] = [:]
        for h in holders { pids[h.tree, default: []].insert(h.pid) }
        return pids.mapValues(\.count)
    }
}
