import Foundation
import Testing

/// The one promise (a tree is deleted only after its last job has exited)
/// tried again after the lease-lock rebuild, as an attacker reading the code
/// and as a messy host would. Each test once made gc delete a tree in use.
@Suite("red team", .serialized, .uninspectableProcesses)
struct RedTeamTests {
    /// The state letter of `/proc/PID/stat` (after the last `)`).
    func procState(_ pid: Int32) -> Character? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].dropFirst().first
    }

    /// A process whose main thread has exited while another thread runs on:
    /// the kernel shows its leader as a zombie ("Z") for as long as the
    /// thread group lives. A supervisor's lease on it (`lease acquire --pid`)
    /// was judged `exited`, pruned, and gc deleted the tree under the
    /// running thread (nothing else ties this job to its tree).
    @Test(.enabled(if: Facility.hasPython3, "needs python3"))
    func leaseOfAProcessWhoseMainThreadExitedKeepsTheTree() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        let job = try Background("/usr/bin/python3", ["-c", """
            import ctypes, threading, time
            threading.Thread(target=lambda: time.sleep(30)).start()
            time.sleep(1.0)
            ctypes.CDLL(None).pthread_exit(None)
            """], cwd: "/")
        #expect(try s.trees(["lease", "acquire", "app@r1", "--pid", String(job.pid)]).status == 0)
        #expect(eventually { procState(job.pid) == "Z" })
        #expect(FileManager.default.fileExists(atPath: "/proc/\(job.pid)/task"))

        let list = try json(try s.trees(["lease", "list", "--json"]).stdout) as? [[String: Any]] ?? []
        #expect(list.first?["liveness"] as? String == "live", "\(list)")
        let gc = try s.trees(["gc", "--min-age", "0", "--keep", "0", "--json"])
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(try gcRevs(gc, "kept").contains("r1"), "\(gc.stdout)")
        #expect(revsOnDisk(s).contains("r1"))

        // Once the whole thread group is gone, the lease is dead and r1 goes.
        job.stop()
        let after = try s.trees(["gc", "--min-age", "0", "--keep", "0", "--json"])
        #expect(try gcRevs(after, "deleted") == ["r1"], "\(after.stdout) \(after.stderr)")
    }

    func owner(_ path: String) -> (uid: uid_t, gid: gid_t)? {
        var st = stat()
        return lstat(path, &st) == 0 ? (st.st_uid, st.st_gid) : nil
    }

    /// A root run by a non-root operator, whose job users' group the
    /// operator is not in (root set it up: `chgrp jobs ROOT/.trees`). A lease
    /// lock file made by root (a `trees exec` run as root, or a root from
    /// before the lease lock) is root's, 0640 in the jobs group: the
    /// operator cannot open it, and gc took "cannot open" for "nobody holds
    /// it", condemned the tree and deleted it under a job holding the lock.
    @Test(.enabled(if: canMakeUsers, "needs root, useradd and setpriv"))
    func gcKeepsATreeWhoseLeaseLockItCannotOpen() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        let jobs = try TestGroup()
        let operatorUser = try TestUser()
        let member = try TestUser(in: jobs)
        chmod(s.path, 0o755)
        #expect(try run("/bin/chown", ["-R", "\(operatorUser.uid):\(operatorUser.gid)", s.root]).status == 0)
        #expect(try run("/bin/chgrp", [jobs.name, s.root + "/.trees", s.root + "/.trees/leases"]).status == 0)
        let lockPath = s.root + "/.trees/leases/app@r1.lock"

        // Root runs a job in the operator's root: the lock file it makes (or
        // finds) is the operator's, never root's.
        #expect(unlink(lockPath) == 0)
        let rootJob = try s.trees(["exec", "app@r1", "--no-chdir", "--", "/bin/true"])
        #expect(rootJob.status == 0, "\(rootJob.stderr)")
        #expect(owner(lockPath)?.uid == uid_t(operatorUser.uid), "root's exec left \(lockPath) owned by uid \(owner(lockPath)?.uid ?? 0)")

        // However it came to be root's, the operator's gc must not take a
        // lock it cannot open for a free one.
        #expect(chown(lockPath, 0, gid_t(jobs.gid)) == 0)
        #expect(chmod(lockPath, 0o640) == 0)
        let job = try member.background(treesBinaryForAnyUser, ["exec", "--root", s.root, "app@r1", "--no-chdir", "--",
                                                      "/usr/bin/env", "-i", "/bin/sleep", "30"])
        #expect(try eventually { try isLocked(lockPath) })
        // A non-root operator cannot inspect other users' processes and gc
        // fails closed on them; here the operator vouches for every process
        // (TREES_IGNORE_UNKNOWN_PIDS), so only the lease lock stands between
        // the job and the deletion, as the lease model promises it does.
        let everyPID = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { Int32($0) != nil }
        let gc = try operatorUser.trees(s, ["gc", "--min-age", "0", "--keep", "0", "--json"],
                                        environment: ["TREES_IGNORE_UNKNOWN_PIDS": everyPID.joined(separator: ",")])
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(try gcRevs(gc, "kept").contains("r1"), "\(gc.stdout) \(gc.stderr)")
        #expect(try gcReason(gc, "r1").contains("lease lock"), "\(gc.stdout) \(gc.stderr)")
        #expect(revsOnDisk(s).contains("r1"))
        job.stop()
    }

    /// `current` moved without `trees activate` (a rollout tool's `ln -sfn`,
    /// a restored backup): the record still says r1 is current, with no
    /// deactivation time, so min-age was measured from r1's install a day
    /// ago and gc deleted it at once, with cron lines that resolved
    /// `current` a moment earlier about to start from it. The grace runs
    /// from when trees first sees a tree no longer current.
    @Test(.enabled(if: hasSQLite3, "needs sqlite3"))
    func graceStartsWhenCurrentIsSeenToMoveBehindTreesBack() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        try installRevs(s, ["r2"], activateLast: false)
        #expect(try sqlite(s, "UPDATE trees SET installed_at = installed_at - 86400").status == 0)
        #expect(try run("/bin/ln", ["-sfn", "r2", s.root + "/app/current"]).status == 0)

        let dry = try s.trees(["gc", "--dry-run", "--min-age", "1h", "--keep", "0", "--json"])
        #expect(try gcReason(dry, "r1") == "too young", "\(dry.stdout) \(dry.stderr)")
        let gc = try s.trees(["gc", "--min-age", "1h", "--keep", "0", "--json"])
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(try gcReason(gc, "r1") == "too young", "\(gc.stdout)")
        #expect(revsOnDisk(s).contains("r1"))
        // The moment gc saw it is recorded, so the grace ends an hour later, not never.
        let stamped = try sqlite(s, "SELECT deactivated_at IS NOT NULL FROM trees WHERE rev = 'r1'").stdout
        #expect(stamped.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "\(stamped)")
        let later = try s.trees(["gc", "--min-age", "0", "--keep", "0", "--json"])
        #expect(try gcRevs(later, "deleted") == ["r1"], "\(later.stdout) \(later.stderr)")
    }

    /// The worst case of RolesTests (`.trees` made group-writable, as the
    /// manual once advised): a member cannot end a lease by deleting its
    /// row, but may rename the lease locks' directory aside. The job keeps its
    /// lock on the moved file; gc made a fresh lock file, took it
    /// exclusive, found no row and deleted the tree under the job. Where
    /// anyone but the operator may change `.trees`, the lock proves nothing:
    /// gc and remove delete nothing until the permissions are fixed.
    @Test(.enabled(if: canMakeUsers && hasSQLite3, "needs root, useradd, setpriv and sqlite3"))
    func aGroupWithWriteAccessCannotRenameALeaseLockAside() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        let group = try TestGroup()
        let member = try TestUser(in: group)
        chmod(s.path, 0o755)
        #expect(try run("/bin/chgrp", ["-R", group.name, s.root + "/.trees"]).status == 0)
        #expect(try run("/bin/chmod", ["-R", "g+w", s.root + "/.trees"]).status == 0)
        let lockPath = s.root + "/.trees/leases/app@r1.lock"
        let job = try Background(treesBinary, ["exec", "--root", s.root, "app@r1", "--no-chdir", "--",
                                               "/usr/bin/env", "-i", "/bin/sleep", "30"])
        #expect(try eventually { try isLocked(lockPath) })

        // The database is private again (the job's exec saw to it); the row
        // goes behind trees' back all the same.
        #expect(try sqlite(s, "DELETE FROM leases", as: member).status != 0)
        #expect(try sqlite(s, "DELETE FROM leases").status == 0)
        // trees makes `leases` 0750 again each time it opens it; `.trees` stays group-writable.
        #expect(try member.run("/bin/mv", [s.root + "/.trees/leases", s.root + "/.trees/aside"]).status == 0)
        let gc = try s.trees(["gc", "--min-age", "0", "--keep", "0", "--json"])
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(try gcRevs(gc, "kept").contains("r1"), "\(gc.stdout)")
        #expect(revsOnDisk(s).contains("r1"))
        let remove = try s.trees(["remove", "app@r1"])
        #expect(remove.status == 75, "\(remove.status) \(remove.stderr)")
        #expect(revsOnDisk(s).contains("r1"))
        job.stop()

        // Fixed permissions: gc works again.
        #expect(try run("/bin/chmod", ["-R", "go-w", s.root + "/.trees"]).status == 0)
        let after = try s.trees(["gc", "--min-age", "0", "--keep", "0", "--json"])
        #expect(try gcRevs(after, "deleted") == ["r1"], "\(after.stdout) \(after.stderr)")
    }
}
