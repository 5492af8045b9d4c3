#if canImport(Glibc)
import Glibc
#endif

/// Totals kept in the `counters` table, because the rows they count do not
/// last (leases are deleted, history is pruned) while a Prometheus counter
/// must only ever grow.
public enum Counter: String, Sendable, CaseIterable {
    case gcRuns = "gc_runs"
    case gcDeletedTrees = "gc_deleted_trees"
    case gcFreedBytes = "gc_freed_bytes"
    /// A timestamp (unix seconds), not a total: the end of the last gc that finished.
    case gcLastSuccess = "gc_last_success"
    case leasesRefused = "leases_refused"
}

extension Store {
    /// Every counter, zero for those never written.
    public func counters() throws -> [Counter: Int64] {
        var result = Dictionary(uniqueKeysWithValues: Counter.allCases.map { ($0, Int64(0)) })
        for row in try query("SELECT name, value FROM counters") {
            if let name = row[0].text, let counter = Counter(rawValue: name) { result[counter] = row[1].int ?? 0 }
        }
        return result
    }

    /// Adds to a counter (or, with `set`, replaces it). Call inside `write`.
    func bump(_ counter: Counter, by amount: Int64 = 1, set: Bool = false) throws {
        try query("""
            INSERT INTO counters (name, value) VALUES (?, ?)
            ON CONFLICT(name) DO UPDATE SET value = \(set ? "excluded.value" : "value + excluded.value")
            """, [.text(counter.rawValue), .int(amount)])
    }

    /// Records one finished gc run: the counters, the decisions worth a
    /// history entry, and the pruning of history older than `historyRetention` seconds.
    ///
    /// Only decisions that depend on what runs (in use, unknown process, a
    /// mount inside) go to history, and a decision is not repeated while it
    /// stays the same, so an hourly timer does not fill the table.
    func recordGCRun(_ run: GCRunRecord, at now: Int64, historyRetention: Int64?) throws {
        try write {
            try bump(.gcRuns)
            try bump(.gcDeletedTrees, by: Int64(run.deletedTrees))
            try bump(.gcFreedBytes, by: run.freedBytes)
            try bump(.gcLastSuccess, by: now, set: true)
            for (tree, reason) in run.keptWhileInUse {
                let last = try query("SELECT event, detail FROM history WHERE name = ? AND rev = ? ORDER BY id DESC LIMIT 1",
                                     [.text(tree.name.value), .text(tree.rev.value)]).first
                if last?[0].text == HistoryEvent.gcKept.rawValue && last?[1].text == reason { continue }
                try record(tree.name.value, tree.rev.value, event: .gcKept, detail: reason)
            }
        }
        if let historyRetention { try pruneHistory(before: now - historyRetention) }
    }

    /// Records a refused lease (the tree was being collected), outside the
    /// transaction that refused it, which rolls back.
    func recordRefusedLease(_ ref: TreeRef, reason: String) throws {
        try write {
            try bump(.leasesRefused)
            try record(ref.name.value, ref.rev.value, event: .leaseRefused, detail: reason)
        }
    }
}

/// One finished gc run, as the store keeps it.
struct GCRunRecord {
    var deletedTrees = 0
    var freedBytes: Int64 = 0
    /// Trees kept for a reason that depends on what runs (in use, unknown
    /// process, a mount inside), each with that reason: these go to history.
    var keptWhileInUse: [(tree: TreeRef, reason: String)] = []
}
