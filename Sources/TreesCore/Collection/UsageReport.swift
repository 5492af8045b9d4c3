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
    /// The capabilities the scan lacked to read other users' processes.
    public var missingCapabilities: [String] = []

    public func holders(of ref: TreeRef) -> [Holder] { holders.filter { $0.tree == ref } }

    /// Other users' processes the scan was refused for want of privilege:
    /// still unknown (in `unknown`, failing closed), but counted and
    /// explained once (`privilegeNotice`), not listed.
    public var othersUninspectable: [UnknownProcess] { unknown.filter(\.lacksPrivilege) }

    /// The unknown processes to list one by one.
    public var unknownListed: [UnknownProcess] { unknown.filter { !$0.lacksPrivilege } }

    /// What `othersUninspectable` means, what is missing and how to grant
    /// it, in one sentence; nil when the scan missed nobody for want of privilege.
    public var privilegeNotice: String? {
        let count = othersUninspectable.count
        guard count > 0 else { return nil }
        let lacking = missingCapabilities.isEmpty ? "the privilege" : missingCapabilities.joined(separator: " and ")
        return "\(count) process\(count == 1 ? "" : "es") of other users cannot be inspected: uid \(geteuid()) lacks \(lacking), "
            + "so gc, remove and wait keep every tree they might use. Run as root, or grant those capabilities "
            + "(a systemd unit's AmbientCapabilities=, e.g. systemctl edit trees-gc.service; see trees(1), WHO MAY DO WHAT)."
    }

    /// Distinct pids per tree, for `list`'s jobs column.
    public var jobsByTree: [TreeRef: Int] {
        var pids: [TreeRef: Set<Int32>] = [:]
        for h in holders { pids[h.tree, default: []].insert(h.pid) }
        return pids.mapValues(\.count)
    }
}
