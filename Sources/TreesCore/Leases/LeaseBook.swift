#if canImport(Glibc)
import Glibc
#endif

/// The lease rows as one gc sees them: each judged live or dead once,
/// against a boot id read once, and only when needed (every row for a
/// prune, a candidate's rows when it is condemned). Rows that appear later
/// (a supervisor's `lease acquire` during the gc) are judged when a tree's
/// rows are looked up again inside its condemn transaction.
struct LeaseBook {
    let leases: Leases
    private var judged: [String: (lease: Lease, liveness: Liveness)] = [:]
    private let bootID: String

    init(_ leases: Leases) throws {
        var leases = leases
        leases.probe = try leases.probe.resolvingBootID()
        self.leases = leases
        bootID = try leases.probe.bootID()
    }

    /// Every lease whose process is gone, to prune.
    mutating func dead() throws -> [Lease] {
        let rows = try leases.rows().filter { judged[$0.id] == nil }
        let listed = leases.probe.listedPIDs(toJudge: rows.count)
        for lease in rows {
            judged[lease.id] = (lease, leases.probe.liveness(of: lease, bootID: bootID, listed: listed))
        }
        return judged.values.filter { $0.liveness != .live }.map(\.lease)
    }

    /// The live leases on `ref` now: its rows read again (inside the caller's
    /// transaction), judging only those not judged before.
    mutating func live(on ref: TreeRef) throws -> [Lease] {
        var live: [Lease] = []
        for lease in try leases.rows(ref) {
            let liveness = judged[lease.id]?.liveness ?? leases.probe.liveness(of: lease, bootID: bootID)
            judged[lease.id] = (lease, liveness)
            if liveness == .live { live.append(lease) }
        }
        return live
    }
}
