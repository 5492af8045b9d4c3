import Foundation
import Testing

@testable import TreesCore

@Suite struct CollectorTests {
    /// Three trees of `app`, r3 current; r1 and r2 are candidates with --keep 0.
    func setUp(_ t: TempDir) throws -> (Root, Store) { try installThreeRevisions(t) }

    @Test func anUnknownProcessKeepsEveryCandidate() throws {
        let t = try TempDir()
        let (root, store) = try setUp(t)
        var scanner = UsageScanner(root: root, store: store)
        scanner.ignoredUnknownPIDs = []
        scanner.procScanOverride = {
            ProcScan(processes: [], unknown: [UnknownProcess(pid: 4242, command: "secret", reason: "environ: Permission denied")])
        }
        let collector = Collector(root: root, store: store, scanner: scanner)
        let outcomes = try collector.collect(policy: GCPolicy(keep: 0, minAge: 0), dryRun: false)
        for rev in ["r1", "r2"] {
            let o = try #require(outcomes.first { $0.tree.rev.value == rev })
            #expect(o.action == .kept)
            #expect(o.reason.contains("unknown process") && o.reason.contains("4242"))
            #expect(try store.tree(TreeRef(parsing: "app@\(rev)"))?.state == .ready)
            #expect(FileManager.default.fileExists(atPath: root.path + "/app/\(rev)/f"))
        }
        // With nothing unknown, the same policy deletes them.
        scanner.procScanOverride = { ProcScan(processes: [], unknown: []) }
        let again = try Collector(root: root, store: store, scanner: scanner).collect(policy: GCPolicy(keep: 0, minAge: 0), dryRun: false)
        #expect(again.filter { $0.action == .deleted }.map(\.tree.rev.value).sorted() == ["r1", "r2"])
        #expect(try store.tree(TreeRef(parsing: "app@r1"))?.state == .deleted)
    }

    @Test func evidenceFoundAfterCondemningPutsTheTreeBackToReady() throws {
        let t = try TempDir()
        let (root, store) = try setUp(t)
        var scanner = UsageScanner(root: root, store: store)
        let r1 = try TreeRef(parsing: "app@r1")
        scanner.procScanOverride = {
            // The scan runs after condemning: r1 must be condemned right now.
            #expect((try? store.tree(r1))?.state == .condemned)
            return ProcScan(processes: [ProcessEvidence(pid: 777, startTime: 1, uid: 0, command: "python3 job.py",
                                                        trees: [r1: [.cmdline]])], unknown: [])
        }
        let outcomes = try Collector(root: root, store: store, scanner: scanner).collect(policy: GCPolicy(keep: 0, minAge: 0), dryRun: false)
        let o = try #require(outcomes.first { $0.tree == r1 })
        #expect(o.action == .kept && o.pids == [777] && o.reason.contains("cmdline"))
        #expect(try store.tree(r1)?.state == .ready)
        #expect(outcomes.first { $0.tree.rev.value == "r2" }?.action == .deleted)
    }

    @Test func aCondemnedTreeRefusesNewLeases() throws {
        let t = try TempDir()
        let (root, store) = try setUp(t)
        let r1 = try TreeRef(parsing: "app@r1")
        try store.write { try store.condemn(r1) }
        do {
            _ = try Leases(root: root, store: store).acquire(TreeSelector(name: r1.name, rev: r1.rev), pid: getpid())
            Issue.record("a condemned tree took a lease")
        } catch let e as TreesError {
            #expect(e.exitStatus == 75)
        }
        // A later gc (recovering from a killed one) puts it back to ready.
        try Collector(root: root, store: store).recover()
        #expect(try store.tree(r1)?.state == .ready)
    }

    @Test func tamperedPathColumnIsNeverActedOn() throws {
        let t = try TempDir()
        let (root, store) = try setUp(t)
        try t.write("victim/keep", "keep")
        try store.query("UPDATE trees SET path = ? WHERE rev = 'r1'", [.text(t.path + "/victim")])
        var scanner = UsageScanner(root: root, store: store)
        scanner.procScanOverride = { ProcScan(processes: [], unknown: []) }
        _ = try Collector(root: root, store: store, scanner: scanner).collect(policy: GCPolicy(keep: 0, minAge: 0), dryRun: false)
        #expect(FileManager.default.fileExists(atPath: t.path + "/victim/keep"))
        #expect(!FileManager.default.fileExists(atPath: root.path + "/app/r1"))
    }

    @Test(arguments: ["current", "pinned"])
    func removeReportsATreeThatBecameCurrentOrPinnedMeanwhile(_ what: String) throws {
        let t = try TempDir()
        let (root, store) = try setUp(t)
        let r1 = try TreeRef(parsing: "app@r1")
        var scanner = UsageScanner(root: root, store: store)
        scanner.procScanOverride = { ProcScan(processes: [], unknown: []) }
        var collector = Collector(root: root, store: store, scanner: scanner)
        // Between remove's checks and its condemn transaction, another
        // command activates or pins the tree.
        collector.beforeCondemn = { ref in
            if what == "current" {
                try Activation(root: root, store: store).activate(ref)
            } else {
                try Collector(root: root, store: store).setPinned(ref, true)
            }
        }
        do {
            _ = try collector.remove(r1)
            Issue.record("removed a tree that became \(what)")
        } catch let e as TreesError {
            #expect(e.exitStatus == 75)
            #expect(e.message == "app@r1 became \(what), not removed", "\(e.message)")
        }
        #expect(try store.tree(r1)?.state == .ready)
        #expect(FileManager.default.fileExists(atPath: root.path + "/app/r1/f"))
    }

    @Test func dryRunOpensNoWriteTransactionAndCreatesNoLockFile() throws {
        let t = try TempDir()
        let (root, store) = try setUp(t)
        try FileManager.default.removeItem(atPath: root.path + "/.trees/leases")
        var scanner = UsageScanner(root: root, store: store)
        scanner.procScanOverride = { ProcScan(processes: [], unknown: []) }
        // Another writer holds the write lock; a dry run must not need it.
        let fd = open(root.path + "/.trees/write.lock", O_RDONLY)
        defer { close(fd) }
        #expect(flock(fd, LOCK_EX) == 0)
        let outcomes = try Collector(root: root, store: store, scanner: scanner).collect(policy: GCPolicy(keep: 0, minAge: 0), dryRun: true)
        #expect(outcomes.filter { $0.action == .wouldDelete }.count == 2)
        #expect(!FileManager.default.fileExists(atPath: root.path + "/.trees/leases"))
    }
}
