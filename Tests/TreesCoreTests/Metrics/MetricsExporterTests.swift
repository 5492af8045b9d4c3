import Foundation
import Testing

@testable import TreesCore

@Suite struct MetricsExporterTests {
    func setUp(_ t: TempDir) throws -> (Root, Store) { try installThreeRevisions(t) }

    func quietScanner(_ root: Root, _ store: Store) -> UsageScanner {
        var scanner = UsageScanner(root: root, store: store)
        scanner.procScanOverride = { ProcScan(processes: [], unknown: []) }
        return scanner
    }

    func sample(_ text: String, _ series: String) -> String? {
        text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.map { String($0.dropFirst(series.count + 1)) }
    }

    @Test func labelValuesAreEscaped() {
        #expect(MetricsExporter.escapeLabelValue(#"a\b"c"# + "\nd") == #"a\\b\"c\nd"#)
    }

    @Test func gcCountersAndRefusedLeasesPersistAndOnlyGrow() throws {
        let t = try TempDir()
        let (root, store) = try setUp(t)
        let scanner = quietScanner(root, store)
        let before = MetricsExporter.render(try HostSnapshot.take(root: root, store: store, scanner: scanner))
        #expect(sample(before, "trees_gc_runs_total") == "0")
        #expect(sample(before, "trees_tree_current{name=\"app\",rev=\"r3\"}") == "1")

        // A condemned tree refuses a lease: counted, and in the history, though the refusing transaction rolled back.
        let r1 = try TreeRef(parsing: "app@r1")
        try store.write { try store.condemn(r1) }
        #expect(throws: TreesError.self) { _ = try Leases(root: root, store: store).acquire(TreeSelector(name: r1.name, rev: r1.rev), pid: getpid()) }
        try Collector(root: root, store: store).recover()
        #expect(try store.counters()[.leasesRefused] == 1)
        #expect(try store.history(name: r1.name).last?.event == "lease-refused")

        let outcomes = try Collector(root: root, store: store, scanner: scanner).collect(policy: GCPolicy(keep: 0, minAge: 0), dryRun: false)
        #expect(outcomes.filter { $0.action == .deleted }.count == 2)
        _ = try Collector(root: root, store: store, scanner: scanner).collect(policy: GCPolicy(keep: 0, minAge: 0), dryRun: true)
        let after = MetricsExporter.render(try HostSnapshot.take(root: try #require(try Root.openExisting(root.path)),
                                                                 store: try root.openStore(), scanner: scanner))
        #expect(sample(after, "trees_gc_runs_total") == "1", "a dry run is not a run")
        #expect(sample(after, "trees_gc_deleted_trees_total") == "2")
        #expect(sample(after, "trees_gc_freed_bytes_total") == "4")
        #expect(Int64(sample(after, "trees_gc_last_success_timestamp_seconds") ?? "") ?? 0 >= unixNow() - 60)
        #expect(sample(after, "trees_leases_refused_total") == "1")
        // Deleted trees leave the per-tree families.
        #expect(!after.contains("rev=\"r1\""))
    }

    @Test func pruningKeepsTheLastActivationThatRollbackNeeds() throws {
        let t = try TempDir()
        let (root, store) = try setUp(t)
        let activation = Activation(root: root, store: store)
        try activation.activate(TreeRef(parsing: "app@r2"))
        try activation.activate(TreeRef(parsing: "app@r3"))
        // Age everything by a year, then prune at 90 days as gc does.
        try store.write { try store.query("UPDATE history SET at = at - 365 * 86400") }
        let collector = Collector(root: root, store: store, scanner: quietScanner(root, store))
        _ = try collector.collect(policy: GCPolicy(keep: 5, minAge: 0, historyRetention: 90 * 86400), dryRun: false)
        let left = try store.history()
        #expect(!left.contains { $0.event == "installed" }, "old entries are pruned")
        #expect(left.contains { $0.event == "activated" && $0.rev == "r3" })
        #expect(try activation.rollback(TreeName("app"), by: "test").to == TreeRef(parsing: "app@r2"))
    }

    @Test func gcKeptDecisionsAreRecordedOnceWhileUnchanged() throws {
        let t = try TempDir()
        let (root, store) = try setUp(t)
        var scanner = UsageScanner(root: root, store: store)
        let r1 = try TreeRef(parsing: "app@r1")
        scanner.procScanOverride = {
            ProcScan(processes: [ProcessEvidence(pid: 777, startTime: 1, uid: 0, command: "job", trees: [r1: [.cwd]])], unknown: [])
        }
        for _ in 0..<3 {
            _ = try Collector(root: root, store: store, scanner: scanner).collect(policy: GCPolicy(keep: 0, minAge: 0), dryRun: false)
        }
        let kept = try store.history(name: r1.name).filter { $0.event == "gc-kept" && $0.rev == "r1" }
        #expect(kept.count == 1)
        #expect(kept.first?.detail?.contains("in use by pids 777") == true)
    }
}
