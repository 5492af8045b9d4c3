import Foundation
import Testing
@testable import TreesCore
import TreesTestSupport

@Suite struct LeaseAPITests {
    @Test func withLeaseHoldsTheTreeOnlyInsideTheBody() throws {
        let t = try TempDir()
        let (root, store) = try CollectorTests().setUp(t)
        let leases = Leases(root: root, store: store)
        let selector = try TreeSelector(parsing: "app")
        let inside = try leases.withLease(selector) { lease -> [(lease: Lease, liveness: Liveness)] in
            #expect(lease.tree.rev.value == "r3")
            #expect(lease.pid == getpid())
            return try leases.list()
        }
        #expect(inside.count == 1 && inside[0].liveness == .live)
        #expect(try leases.list().isEmpty)
        // The same process judged against another boot id is dead.
        let lease = try leases.acquire(TreeSelector(parsing: "app@r1"), pid: getpid())
        let rebooted = ProcessProbe(bootID: "other")
        #expect(rebooted.liveness(of: lease, bootID: try rebooted.bootID()) == .otherBoot)
        #expect(try Leases(root: root, store: store, probe: rebooted).list().first?.liveness == .otherBoot)
        var reused = lease
        reused.startTime += 1
        #expect(ProcessProbe().liveness(of: reused, bootID: lease.bootID) == .reused)
        try leases.release(lease.id)
        #expect(throws: TreesError.self) { try leases.release(lease.id) }
    }

    @Test func withLeaseHoldsTheLeaseLockSoGCKeepsTheTreeWhateverTheRecordSays() throws {
        let t = try TempDir()
        let (root, store) = try CollectorTests().setUp(t)
        var scanner = UsageScanner(root: root, store: store)
        scanner.procScanOverride = { ProcScan(processes: [], unknown: []) }
        let collector = Collector(root: root, store: store, scanner: scanner)
        let leases = Leases(root: root, store: store)
        let outcomes = try leases.withLease(TreeSelector(parsing: "app@r1")) { lease -> [GCOutcome] in
            // Someone with write access deletes the record: the lock still holds.
            try store.query("DELETE FROM leases")
            return try collector.collect(policy: GCPolicy(keep: 0, minAge: 0), dryRun: false)
        }
        let r1 = try #require(outcomes.first { $0.tree.rev.value == "r1" })
        #expect(r1.action == .kept && r1.reason == "in use (lease lock held)", "\(r1.reason)")
        #expect(outcomes.first { $0.tree.rev.value == "r2" }?.action == .deleted)
        // The deleted tree's lock file goes with it; the kept one stays.
        #expect(!FileManager.default.fileExists(atPath: root.path + "/.trees/leases/app@r2.lock"))
        #expect(FileManager.default.fileExists(atPath: root.path + "/.trees/leases/app@r1.lock"))
        // Out of the body the lock is gone and the tree goes.
        let after = try collector.collect(policy: GCPolicy(keep: 0, minAge: 0), dryRun: false)
        #expect(after.first { $0.tree.rev.value == "r1" }?.action == .deleted)
    }

    @Test func aSharedLockIsRefusedWhileGCHoldsItAndOnADeletedTree() throws {
        let t = try TempDir()
        let (root, _) = try CollectorTests().setUp(t)
        let r1 = try TreeRef(parsing: "app@r1")
        guard case .taken(let held?) = try TreeLock.exclusive(r1, in: root, create: true) else {
            Issue.record("gc could not take a free lock")
            return
        }
        #expect(throws: TreesError.self) { _ = try TreeLock.shared(r1, in: root, timeout: 0.2) }
        // gc deletes the tree, unlinks the lock file, lets go: a job that
        // opened the old file in between finds the tree gone (66).
        held.unlinkFile(in: root)
        try Process.run(URL(fileURLWithPath: "/bin/chmod"), arguments: ["-R", "u+w", root.path + "/app/r1"]).waitUntilExit()
        try FileManager.default.removeItem(atPath: root.path + "/app/r1")
        do {
            _ = try TreeLock.shared(r1, in: root, timeout: 0.2)
            Issue.record("a lease lock on a deleted tree")
        } catch let e as TreesError {
            #expect(e.exitStatus == 66)
        }
        _ = consume held
    }

    /// Many rows are judged by one listing of /proc taken after they are
    /// read (not one open per row): gone processes are exited, running ones
    /// live, and a pid listed again is still checked by its start time.
    @Test func manyLeasesAreJudgedAgainstOneListingOfProc() throws {
        let t = try TempDir()
        let (root, store) = try CollectorTests().setUp(t)
        let leases = Leases(root: root, store: store)
        var sleepers: [pid_t] = []
        defer { sleepers.forEach(reap) }
        for _ in 0..<24 {
            let pid = try #require(spawnSleeper())
            sleepers.append(pid)
            _ = try leases.acquire(TreeSelector(parsing: "app@r1"), pid: pid)
        }
        let ended = Array(sleepers.prefix(20))
        sleepers.removeFirst(20)
        ended.forEach(reap)
        var reused = try leases.acquire(TreeSelector(parsing: "app@r2"), pid: getpid())
        try store.query("UPDATE leases SET start_time = start_time + 1 WHERE id = ?", [.text(reused.id)])
        reused.startTime += 1
        let judged = try leases.list()
        #expect(judged.count == 25)
        let live = Set(judged.filter { $0.liveness == .live }.map(\.lease.pid))
        #expect(live == Set(sleepers))
        #expect(judged.filter { $0.liveness == .exited }.count == 20)
        #expect(judged.first { $0.lease.id == reused.id }?.liveness == .reused)
        #expect(try Leases(root: root, store: store).pruneDead() == 21)
        #expect(try leases.list().count == 4)
    }

    /// A thread is not listed by `readdir(/proc)` and may end before its
    /// process: a lease names a process, and a thread id is refused (64).
    @Test func aThreadIDIsRefusedAsALeasePid() throws {
        let t = try TempDir()
        let (root, store) = try CollectorTests().setUp(t)
        let thread = Thread { Foundation.sleep(5) }
        thread.start()
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").compactMap { Int32($0) }
        let tid = try #require(tasks.first { $0 != getpid() })
        do {
            _ = try Leases(root: root, store: store).acquire(TreeSelector(parsing: "app@r1"), pid: tid)
            Issue.record("a lease was taken for thread \(tid)")
        } catch let e as TreesError {
            #expect(e.exitStatus == 64 && e.message.contains("thread of process \(getpid())"), "\(e)")
        }
        #expect(try Leases(root: root, store: store).list().isEmpty)
    }

    @Test func ownPIDIsThePidThisProcFilesystemShows() {
        #expect(ProcessProbe().ownPID() == getpid())
    }
}
