import Foundation
import Testing

/// `flock` needs only read access: a lock file anyone can open is a lock
/// anyone can hold, and a command that waits for it without bound hangs.
@Suite("locks held hostage", .serialized, .uninspectableProcesses)
struct LockHostageTests {
    /// Runs trees as the operator with a short lock timeout, under timeout(1)
    /// so that a hang fails the test instead of the suite.
    func bounded(_ s: Scratch, _ args: [String]) throws -> (RunResult, Double) {
        let started = Date()
        let path = args.first == "lease" ? 2 : 1
        let r = try run("/usr/bin/timeout", ["-s", "KILL", "30", treesBinary] + Array(args.prefix(path)) + ["--root", s.root] + args.dropFirst(path),
                        environment: ["TREES_LOCK_TIMEOUT": "1"])
        return (r, Date().timeIntervalSince(started))
    }

    @Test(.enabled(if: canMakeUsers, "needs root, useradd and setpriv"))
    func anyUserCannotHoldTheOperatorsLocks() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2", "r3"])
        chmod(s.path, 0o755)
        let stranger = try TestUser()
        var holders: [Background] = []
        for lock in ["install.lock", "gc.lock", "write.lock", "migrate.lock"] {
            var st = stat()
            #expect(stat(s.root + "/.trees/" + lock, &st) == 0 && st.st_mode & 0o777 == 0o600, "\(lock) is \(String(st.st_mode & 0o777, radix: 8))")
            holders.append(try stranger.background("/usr/bin/flock", ["-o", "-s", s.root + "/.trees/" + lock, "/bin/sleep", "30"]))
        }
        usleep(300_000)
        for (args, expected) in [(["gc", "--wait-lock", "--min-age", "0", "--keep", "1"], Int32(0)),
                                 (["remove", "app@r2"], 0), (["lease", "list"], 0)] {
            let (r, took) = try bounded(s, args)
            #expect(r.status == expected, "trees \(args): \(r.status) after \(took)s: \(r.stderr)")
        }
        try s.write("src-r4/f", "4\n")
        let (install, _) = try bounded(s, ["install", "app@r4", s.path + "/src-r4"])
        #expect(install.status == 0, "\(install.stderr)")
        holders.forEach { $0.stop() }
    }

    @Test(.enabled(if: canMakeUsers, "needs root, useradd and setpriv"))
    func aLockAlreadyHeldMakesEveryWaitEndWith75NamingTheHolder() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2", "r3"])
        chmod(s.path, 0o755)
        let stranger = try TestUser()
        // A root made by an older trees: its lock files were 0644, and the
        // stranger opened them then.
        var holders: [Background] = []
        for lock in ["install.lock", "gc.lock"] {
            chmod(s.root + "/.trees/" + lock, 0o644)
            holders.append(try stranger.background("/usr/bin/flock", ["-o", "-s", s.root + "/.trees/" + lock, "/bin/sleep", "30"]))
        }
        #expect(try eventually { try isLocked(s.root + "/.trees/gc.lock") && isLocked(s.root + "/.trees/install.lock") })
        try s.write("src-r4/f", "4\n")
        for args in [["gc", "--wait-lock"], ["remove", "app@r1"], ["install", "app@r4", s.path + "/src-r4"]] {
            let (r, took) = try bounded(s, args)
            #expect(r.status == 75, "trees \(args): \(r.status): \(r.stderr)")
            #expect(took < 15, "trees \(args) took \(took)s")
            #expect(holders.contains { r.stderr.contains("pid \($0.pid)") }, "trees \(args) did not name the holder: \(r.stderr)")
        }
        // Opened by the operator, the files are private again.
        var st = stat()
        #expect(stat(s.root + "/.trees/gc.lock", &st) == 0 && st.st_mode & 0o777 == 0o600)
        holders.forEach { $0.stop() }
    }

    @Test(.enabled(if: canMakeUsers, "needs root, useradd and setpriv"))
    func aJobUserHoldingATreeLockExclusiveOnlyKeepsTheTree() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        let group = try TestGroup()
        let member = try TestUser(in: group)
        try grantHolders(s, group)
        let lockPath = s.root + "/.trees/leases/app@r1.lock"
        let hostage = try member.background("/usr/bin/flock", ["-o", "-x", lockPath, "/bin/sleep", "30"])
        #expect(try eventually { try isLocked(lockPath) })
        let (exec, took) = try bounded(s, ["exec", "app@r1", "--", "/bin/true"])
        #expect(exec.status == 75, "\(exec.stderr)")
        #expect(took < 15)
        #expect(exec.stderr.contains("pid \(hostage.pid)"), "\(exec.stderr)")
        let (gc, gcTook) = try bounded(s, ["gc", "--min-age", "0", "--keep", "0", "--json"])
        #expect(gc.status == 0 && gcTook < 15, "\(gc.stderr)")
        #expect(try gcReason(gc, "r1") == "in use (lease lock held)", "\(gc.stdout)")
        hostage.stop()
        #expect(try s.trees(["exec", "app@r1", "--", "/bin/true"]).status == 0)
    }
}
