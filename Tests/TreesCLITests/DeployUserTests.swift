import Foundation
import Testing

/// The operator need not be root: a `deploy` user who owns the root (as
/// Capistrano and Deployer users deploy) installs, activates, rolls back,
/// pins, removes and collects on it (trees(1), WHO MAY DO WHAT). Issue 14:
/// its install exited 1 (renaming the sealed 0555 top into place needs
/// write permission on it: rename(2) of a directory to a new parent updates
/// its `..`), and its gc kept everything, listing every other user's
/// process as unknown.
@Suite("a deploy user operating its own root", .serialized, .uninspectableProcesses)
struct DeployUserTests {
    /// What systemd's `AmbientCapabilities=` grants the packaged gc unit run as the operator.
    static let gcCapabilities = ["sys_ptrace", "dac_read_search"]

    /// A scratch root owned by a fresh user, with sources for `revs` it may read.
    func deployRoot(_ revs: [String]) throws -> (Scratch, TestUser) {
        let s = try Scratch()
        chmod(s.path, 0o755)
        let deploy = try TestUser()
        #expect(mkdir(s.root, 0o755) == 0)
        #expect(chown(s.root, uid_t(deploy.uid), gid_t(deploy.gid)) == 0)
        for rev in revs {
            try s.write("src-\(rev)/lib/f.txt", "\(rev)\n")
            try s.write("src-\(rev)/bin/job", "#!/bin/sh\nsleep 30\n", executable: true)
        }
        return (s, deploy)
    }

    func mode(_ path: String) -> (mode: mode_t, uid: uid_t)? {
        var st = stat()
        return lstat(path, &st) == 0 ? (st.st_mode & 0o7777, st.st_uid) : nil
    }

    func current(_ s: Scratch) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: s.root + "/app/current")
    }

    /// Entries of `ROOT/app` that are neither a rev nor `current` (a tree in transit left behind).
    func strays(_ s: Scratch) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: s.root + "/app")) ?? []).filter { $0.hasPrefix(".") }
    }

    @Test(.enabled(if: canMakeUsers, "needs root, useradd and setpriv"))
    func aDeployUserInstallsActivatesRollsBackPinsRemovesAndCollects() throws {
        let (s, deploy) = try deployRoot(["r1", "r2", "r3", "r4", "r5", "r6"])
        func trees(_ args: [String], capabilities: [String] = []) throws -> RunResult {
            let r = try deploy.trees(s, args, capabilities: capabilities)
            #expect(r.status == 0, "deploy: trees \(args.joined(separator: " ")): \(r.status) \(r.stderr)")
            return r
        }
        _ = try trees(["install", "app@r1", s.path + "/src-r1", "--activate"])
        _ = try trees(["install", "app@r2", s.path + "/src-r2", "--activate"])
        #expect(try run("/bin/tar", ["-cf", s.path + "/r3.tar", "-C", s.path + "/src-r3", "."]).status == 0)
        _ = try trees(["install", "app@r3", s.path + "/r3.tar"])
        _ = try trees(["install", "app@r4", s.path + "/src-r4"])
        for rev in ["r1", "r2", "r3", "r4"] {
            // Read-only once visible, and the operator's.
            let top = mode(s.root + "/app/" + rev)
            #expect(top?.mode == 0o555 && top?.uid == uid_t(deploy.uid), "app/\(rev): \(String(top?.mode ?? 0, radix: 8)) uid \(top?.uid ?? 0)")
            #expect(mode(s.root + "/app/\(rev)/lib")?.mode == 0o555)
            _ = try trees(["verify", "app@\(rev)"])
        }
        #expect(strays(s).isEmpty, "\(strays(s))")
        #expect(current(s) == "r2")

        _ = try trees(["activate", "app@r3"])
        #expect(current(s) == "r3")
        _ = try trees(["rollback", "app"])
        #expect(current(s) == "r2")
        _ = try trees(["pin", "app@r1"])

        // The packaged gc unit as root, on the deploy user's root: what it
        // makes or touches stays the operator's.
        let rootGC = try s.trees(["gc", "--keep", "10"])
        #expect(rootGC.status == 0, "\(rootGC.stderr)")
        for name in ["state.db", "state.db-wal", "state.db-shm", "gc.lock", "write.lock"] {
            #expect(mode(s.root + "/.trees/" + name)?.uid == uid_t(deploy.uid), "\(name) is no longer the operator's")
        }
        _ = try trees(["install", "app@r5", s.path + "/src-r5"])

        // A job of the operator's own keeps its tree from the operator's gc.
        let job = try deploy.background(treesBinaryForAnyUser, ["exec", "--root", s.root, "app@r4", "--no-chdir", "--",
                                                      "/usr/bin/env", "-i", "/bin/sleep", "30"])
        #expect(try eventually { try isLocked(s.root + "/.trees/leases/app@r4.lock") })
        let remove = try deploy.trees(s, ["remove", "app@r4"], capabilities: Self.gcCapabilities)
        #expect(remove.status == 75, "\(remove.stderr)")
        job.stop()
        #expect(try eventually { try !isLocked(s.root + "/.trees/leases/app@r4.lock") })
        _ = try trees(["remove", "app@r4"], capabilities: Self.gcCapabilities)
        #expect(!s.exists("root/app/r4"))

        // A tree root installed here is root's: the operator's gc cannot move
        // it, puts it back sealed and keeps it with the reason, and goes on.
        #expect(try s.trees(["install", "app@r6", s.path + "/src-r6"]).status == 0)
        let gc = try trees(["gc", "--keep", "0", "--min-age", "0", "--json"], capabilities: Self.gcCapabilities)
        #expect(try gcRevs(gc, "deleted") == ["r3", "r5"], "\(gc.stdout) \(gc.stderr)")
        #expect(try gcReason(gc, "r6").contains("cannot be deleted by uid \(deploy.uid)"), "\(gc.stdout)")
        #expect(mode(s.root + "/app/r6")?.mode == 0o555)
        #expect(try gcReason(gc, "r1") == "pinned")
        #expect(try gcReason(gc, "r2") == "current")
        #expect(!gc.stderr.contains("CAP_SYS_PTRACE"), "\(gc.stderr)")
        #expect(!s.exists("root/app/r3") && !s.exists("root/app/r5"))
        #expect(listing(s.root + "/.trees/trash").isEmpty && strays(s).isEmpty)
        _ = try trees(["unpin", "app@r1"])
        _ = try trees(["doctor"])
    }

    /// Without CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH the operator cannot
    /// inspect other users' processes. gc, remove, ps and wait say so once,
    /// with what is missing and how to grant it, instead of listing each
    /// process as unknown, and still fail closed: nothing they might use is
    /// deleted, and wait does not report the tree drained.
    @Test(.enabled(if: canMakeUsers, "needs root, useradd and setpriv"))
    func withoutTheCapabilitiesGCSaysSoOnceAndKeepsWhatItCannotJudge() throws {
        let (s, deploy) = try deployRoot(["r1", "r2"])
        for (rev, activate) in [("r1", false), ("r2", true)] {
            let r = try deploy.trees(s, ["install", "app@\(rev)", s.path + "/src-\(rev)"] + (activate ? ["--activate"] : []))
            #expect(r.status == 0, "\(r.stderr)")
        }
        // Some process of another user is there to be missed: this test's own runner is root's.
        func saysOnce(_ r: RunResult, _ what: String) {
            let text = r.stdout + r.stderr
            let mentions = text.components(separatedBy: "CAP_SYS_PTRACE").count - 1
            #expect(mentions == 1, "\(what) mentions the capability \(mentions) times: \(text)")
            #expect(text.contains("other users"), "\(what): \(text)")
            // Only what the host's operator vouched for (TREES_IGNORE_UNKNOWN_PIDS) is still listed.
            let listed = text.split(separator: "\n").filter { $0.contains("Permission denied") && !$0.contains("TREES_IGNORE_UNKNOWN_PIDS") }
            #expect(listed.isEmpty, "\(what) lists processes one by one: \(text)")
        }

        let gc = try deploy.trees(s, ["gc", "--keep", "0", "--min-age", "0", "--json"])
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(try gcRevs(gc, "kept") == ["r1", "r2"], "\(gc.stdout)")
        #expect(try gcReason(gc, "r1").contains("other users"), "\(gc.stdout)")
        saysOnce(gc, "gc --json")
        let rows = try json(gc.stdout) as? [[String: Any]] ?? []
        #expect(rows.allSatisfy { ($0["pids"] as? [Any])?.isEmpty ?? true }, "\(gc.stdout)")
        #expect(s.exists("root/app/r1"))

        let table = try deploy.trees(s, ["gc", "--keep", "0", "--min-age", "0"])
        #expect(table.status == 0)
        saysOnce(table, "gc")

        let remove = try deploy.trees(s, ["remove", "app@r1"])
        #expect(remove.status == 75, "\(remove.stderr)")
        saysOnce(remove, "remove")
        #expect(s.exists("root/app/r1"))

        let ps = try deploy.trees(s, ["ps"])
        #expect(ps.status == 0, "\(ps.stderr)")
        saysOnce(ps, "ps")

        let wait = try deploy.trees(s, ["wait", "app@r1", "--timeout", "1s"])
        #expect(wait.status == 75, "\(wait.stderr)")
        saysOnce(wait, "wait")

        // Granted the capabilities, the same gc judges and deletes.
        let granted = try deploy.trees(s, ["gc", "--keep", "0", "--min-age", "0", "--json"], capabilities: Self.gcCapabilities)
        #expect(try gcRevs(granted, "deleted") == ["r1"], "\(granted.stdout) \(granted.stderr)")
    }
}
