import Foundation
import Testing

@testable import TreesCore

@Suite struct MetricsExporterTests {
    func setUp(_ t: TempDir) throws -> (Root, Store) { try installThreeRevisions(t) }

    func quietScanner(_ root: Root, _ store: Store, _ processes: [ProcessEvidence] = [], kernel: [KernelHold] = []) -> UsageScanner {
        var scanner = UsageScanner(root: root, store: store)
        scanner.procScanOverride = { ProcScan(processes: processes, unknown: [], kernel: kernel) }
        return scanner
    }

    func render(_ root: Root, _ store: Store, _ scanner: UsageScanner) throws -> String {
        MetricsExporter.render(try HostSnapshot.take(location: root.path, root: root, store: store, scanner: scanner), version: "9.8.7")
    }

    /// The value of `family{root="ROOT",labels}`, where `labels` is the rest of the label text.
    func sample(_ text: String, _ root: Root, _ family: String, _ labels: String = "") -> String? {
        let series = "\(family){root=\"\(root.path)\"\(labels.isEmpty ? "" : ",")\(labels)}"
        return text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.map { String($0.dropFirst(series.count + 1)) }
    }

    @Test func labelValuesAreEscaped() {
        #expect(MetricsExporter.escapeLabelValue(#"a\b"c"# + "\nd") == #"a\\b\"c\nd"#)
    }

    @Test func gcCountersAndRefusedLeasesPersistAndOnlyGrow() throws {
        let t = try TempDir()
        let (root, store) = try setUp(t)
        let scanner = quietScanner(root, store)
        let before = try render(root, store, scanner)
        #expect(sample(before, root, "trees_gc_runs_total") == "0")
        #expect(sample(before, root, "trees_tree_current", #"name="app",rev="r3""#) == "1")

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
        let reopened = try #require(try Root.openExisting(root.path))
        let after = try render(reopened, try reopened.openStore(), scanner)
        #expect(sample(after, root, "trees_gc_runs_total") == "1", "a dry run is not a run")
        #expect(sample(after, root, "trees_gc_deleted_trees_total") == "2")
        #expect(sample(after, root, "trees_gc_freed_bytes_total") == "4")
        #expect(Int64(sample(after, root, "trees_gc_last_success_timestamp_seconds") ?? "") ?? 0 >= unixNow() - 60)
        #expect(sample(after, root, "trees_leases_refused_total") == "1")
        // Deleted trees leave the per-tree families.
        #expect(!after.contains("rev=\"r1\""))
    }

    @Test func everyFamilyOnceInTableOrderAndEverySampleLabelledWithItsRoot() throws {
        let t = try TempDir()
        let (root, store) = try setUp(t)
        let text = try render(root, store, quietScanner(root, store))
        let lines = text.split(separator: "\n").map(String.init)
        let help = lines.filter { $0.hasPrefix("# HELP ") }
        #expect(help == MetricFamily.allCases.map { "# HELP \($0.name) \($0.help)" })
        #expect(lines.filter { $0.hasPrefix("# TYPE ") } == MetricFamily.allCases.map { "# TYPE \($0.name) \($0.type)" })
        let samples = lines.filter { !$0.hasPrefix("#") }
        #expect(!samples.isEmpty)
        for line in samples {
            let family = try #require(MetricFamily(rawValue: String(line.prefix { $0 != "{" })), "\(line)")
            #expect(line.hasPrefix("\(family.name){root=\"\(root.path)\""), "\(line)")
            // Exactly the table's labels, in its order.
            let names = line.drop { $0 != "{" }.dropFirst().prefix { $0 != "}" }
                .split(separator: ",").map { String($0.prefix { $0 != "=" }) }
            #expect(names == family.labels, "\(line)")
        }
        #expect(MetricFamily.allCases.filter { $0.type == "counter" }.allSatisfy { $0.name.hasSuffix("_total") })
        #expect(sample(text, root, "trees_build_info", #"version="9.8.7""#) == "1")
    }

    @Test func stateAndVerdictAreStateSetsAndInfoKeepsOnlyLabelsThatNeverChange() throws {
        let t = try TempDir()
        let (root, store) = try setUp(t)
        try store.write { try store.condemn(TreeRef(parsing: "app@r1")) }
        let text = try render(root, store, quietScanner(root, store))
        for (rev, state) in [("r1", "condemned"), ("r2", "ready"), ("r3", "ready")] {
            for other in ["installing", "ready", "condemned", "deleting"] {
                #expect(sample(text, root, "trees_tree_state", #"name="app",rev="\#(rev)",state="\#(other)""#) == (other == state ? "1" : "0"))
            }
            #expect(sample(text, root, "trees_tree_verdict", #"name="app",rev="\#(rev)",verdict="unverified""#) == "1")
            let digest = try #require(try store.tree(TreeRef(parsing: "app@\(rev)"))?.digest)
            #expect(sample(text, root, "trees_tree_info", #"name="app",rev="\#(rev)",digest="\#(digest)""#) == "1")
        }
        #expect(!text.contains("state=\"deleted\""), "a deleted tree has no series, so no state says so")
    }

    @Test func activationTimeOldestJobAndDraining() throws {
        let t = try TempDir()
        let (root, store) = try setUp(t)
        let r1 = try TreeRef(parsing: "app@r1")
        // Two processes on r1 (the older one wins) and a mount, which has no start.
        let scanner = quietScanner(root, store, [
            ProcessEvidence(pid: 901, startTime: 5000, uid: 0, command: "newer", trees: [r1: [.cwd]]),
            ProcessEvidence(pid: 900, startTime: 3000, uid: 0, command: "older", trees: [r1: [.cwd]]),
        ], kernel: [KernelHold(kind: .mount, tree: r1, holder: "overlay on /merged")])
        let text = try render(root, store, scanner)
        let clock = try #require(ProcessProbe().bootClock())
        #expect(sample(text, root, "trees_tree_oldest_job_start_timestamp_seconds", #"name="app",rev="r1""#) == "\(clock.startedAt(3000))")
        #expect(sample(text, root, "trees_tree_oldest_job_start_timestamp_seconds", #"name="app",rev="r3""#) == nil, "absent with no job")
        #expect(sample(text, root, "trees_tree_jobs", #"name="app",rev="r1""#) == "3", "two processes and the mount")
        let activated = try #require(try store.tree(TreeRef(parsing: "app@r3"))?.activatedAt)
        #expect(sample(text, root, "trees_current_activated_timestamp_seconds", #"name="app",rev="r3""#) == "\(activated)")
        #expect(!text.contains(#"trees_current_activated_timestamp_seconds{root="\#(root.path)",name="app",rev="r1"}"#))
        // No drain exists on this branch: every tree says 0 (see HostSnapshot.drainingTrees).
        for rev in ["r1", "r2", "r3"] {
            #expect(sample(text, root, "trees_tree_draining", #"name="app",rev="\#(rev)""#) == "0")
        }
        var snapshot = try HostSnapshot.take(location: root.path, root: root, store: store, scanner: scanner)
        snapshot.draining = [r1]
        #expect(MetricsExporter.render(snapshot, version: "1").contains(#"trees_tree_draining{root="\#(root.path)",name="app",rev="r1"} 1"#))
    }

    @Test func theRootLabelIsEscapedAndAMissingRootKeepsItsLocation() throws {
        let empty = HostSnapshot(root: "/srv/a \"b\"\\c", trees: [], current: [:], usage: UsageReport(holders: [], unknown: []), counters: [:])
        let text = MetricsExporter.render(empty, version: "1")
        #expect(text.contains(#"trees_unknown_processes{root="/srv/a \"b\"\\c"} 0"#))
        let none = try HostSnapshot.take(location: "/nonexistent/root", root: nil, store: nil, scanner: nil)
        #expect(MetricsExporter.render(none, version: "1").contains(#"trees_gc_runs_total{root="/nonexistent/root"} 0"#))
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
