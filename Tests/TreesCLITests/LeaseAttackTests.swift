import Foundation
import Testing

/// Revs of app whose gc outcome is `action`, from `gc --json`.
func gcRevs(_ r: RunResult, _ action: String) throws -> Set<String> {
    let rows = try json(r.stdout) as? [[String: Any]] ?? []
    return Set(rows.filter { $0["action"] as? String == action }.compactMap { $0["rev"] as? String })
}

/// The reason gc gave for one rev.
func gcReason(_ r: RunResult, _ rev: String) throws -> String {
    let rows = try json(r.stdout) as? [[String: Any]] ?? []
    return rows.first { $0["rev"] as? String == rev }?["reason"] as? String ?? ""
}

/// The pids of a process's children (`/proc/PID/task/*/children`).
func children(of pid: Int32) -> [Int32] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    return tasks.flatMap { task in
        ((try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? "")
            .split(separator: " ").compactMap { Int32($0) }
    }
}

let canUnsharePID: Bool = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")
    && (try? run("/usr/bin/unshare", ["-p", "-f", "--mount-proc", "/bin/true"]).status) == 0

/// Attacks on leases: each once made gc delete a tree in use, or let someone
/// end a lease that was not theirs.
@Suite("lease attacks")
struct LeaseAttackTests {
    /// A job whose only tie to its tree is its lease (no cwd, no environment).
    func leaseOnlyJob(_ s: Scratch, _ tree: String, seconds: Int = 30) -> [String] {
        ["exec", "--root", s.root, tree, "--no-chdir", "--", "/usr/bin/env", "-i", "/bin/sleep", String(seconds)]
    }

    @Test(.enabled(if: canUnsharePID, "needs root and unshare(1) with pid namespaces"))
    func leaseTakenInsideAPidNamespaceKeepsTheTree() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        // With its own /proc the job sees itself as pid 1: its lease row is
        // meaningless outside; only the lock can hold the tree.
        let job = try Background("/usr/bin/unshare", ["-p", "-f", "--kill-child", "--mount-proc", treesBinary] + leaseOnlyJob(s, "app@r1"))
        #expect(try eventually { try isLocked(s.root + "/.trees/leases/app@r1.lock") })
        let gc = try s.trees(["gc", "--min-age", "0", "--keep", "0", "--json"])
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(try gcRevs(gc, "kept").contains("r1"), "\(gc.stdout)")
        #expect(revsOnDisk(s).contains("r1"))
        job.stop()
        #expect(try eventually { try !isLocked(s.root + "/.trees/leases/app@r1.lock") })
        let after = try s.trees(["gc", "--min-age", "0", "--keep", "0", "--json"])
        #expect(try gcRevs(after, "deleted") == ["r1"], "\(after.stdout) \(after.stderr)")
    }

    @Test(.enabled(if: canUnsharePID, "needs root and unshare(1) with pid namespaces"))
    func leaseTakenInsideAPidNamespaceRecordsTheHostPid() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        // The host's /proc still mounted: getpid() says 1, NSpid tells the truth.
        let job = try Background("/usr/bin/unshare", ["-p", "-f", "--kill-child", treesBinary] + leaseOnlyJob(s, "app@r1"))
        var hostPID: Int32 = 0
        #expect(eventually { hostPID = children(of: job.pid).first ?? 0; return hostPID != 0 })
        job.extraPIDs.append(hostPID)
        var leases: [[String: Any]] = []
        #expect(try eventually {
            leases = try json(try s.trees(["lease", "list", "--json"]).stdout) as? [[String: Any]] ?? []
            return !leases.isEmpty
        })
        #expect(leases.first?["pid"] as? Int == Int(hostPID), "\(leases)")
        #expect(leases.first?["live"] as? Bool == true)
        job.stop()
        kill(hostPID, SIGKILL)
        // Once it exits its lease is dead (not pinned alive by the host's pid 1).
        #expect(try eventually { (try json(try s.trees(["lease", "list", "--json"]).stdout) as? [[String: Any]])?.first?["live"] as? Bool == false })
        let gc = try s.trees(["gc", "--min-age", "0", "--keep", "0", "--json"])
        #expect(try gcRevs(gc, "deleted") == ["r1"], "\(gc.stdout)")
    }

    @Test func testBootIDVariableDoesNotDropLiveLeases() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        let holder = try Background("/bin/sleep", ["30"], cwd: "/")
        #expect(try s.trees(["lease", "acquire", "app@r1", "--pid", String(holder.pid)]).status == 0)
        let fake = ["TREES_TEST_BOOT_ID": "00000000-0000-0000-0000-000000000000"]
        let list = try json(try s.trees(["lease", "list", "--json"], environment: fake).stdout) as? [[String: Any]] ?? []
        #expect(list.first?["liveness"] as? String == "live")
        let gc = try s.trees(["gc", "--min-age", "0", "--keep", "0", "--json"], environment: fake)
        #expect(try gcRevs(gc, "kept").contains("r1"), "\(gc.stdout)")
        #expect(revsOnDisk(s).contains("r1"))
    }

    @Test func dryRunNeedsNoWriteLock() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2", "r3"])
        // Another writer holds the database's write lock: a dry run, which
        // writes nothing, must not wait for it.
        let holder = try Background("/usr/bin/flock", ["-o", "-x", s.root + "/.trees/write.lock", "/bin/sleep", "30"])
        #expect(try eventually { try isLocked(s.root + "/.trees/write.lock") })
        let r = try s.trees(["gc", "--dry-run", "--min-age", "0", "--keep", "0", "--json"], environment: ["TREES_LOCK_TIMEOUT": "1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try gcRevs(r, "would-delete") == ["r1", "r2"])
        holder.stop()
    }
}
