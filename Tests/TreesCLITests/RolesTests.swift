import Foundation
import Testing

/// Sets a root up for a group of job users as trees(1), WHO MAY DO WHAT,
/// says: the group of `.trees` and of its lease locks is theirs, nothing
/// under `.trees` is writable by them.
func grantHolders(_ s: Scratch, _ group: TestGroup) throws {
    #expect(try run("/bin/chgrp", [group.name, s.root + "/.trees"]).status == 0)
    #expect(try run("/bin/chgrp", ["-R", group.name, s.root + "/.trees/leases"]).status == 0)
    // The scratch directory itself is 0700 on some hosts: let the users in.
    chmod(s.path, 0o755)
}

/// Each role of trees(1), WHO MAY DO WHAT, tried as its own user.
@Suite("who may do what", .serialized, .uninspectableProcesses)
struct RolesTests {
    func leaseOnlyJob(_ s: Scratch, _ tree: String) -> [String] {
        ["exec", "--root", s.root, tree, "--no-chdir", "--", "/usr/bin/env", "-i", "/bin/sleep", "30"]
    }

    @Test(.enabled(if: canMakeUsers && hasSQLite3, "needs root, useradd, setpriv and sqlite3"))
    func aGroupWithWriteAccessCannotEndLeasesOrUnpin() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2", "r3", "r4"])
        let group = try TestGroup()
        let member = try TestUser(in: group)
        // The worst case: what the manual once told operators to do.
        chmod(s.path, 0o755)
        #expect(try run("/bin/chgrp", ["-R", group.name, s.root + "/.trees"]).status == 0)
        #expect(try run("/bin/chmod", ["-R", "g+w", s.root + "/.trees"]).status == 0)
        let job = try Background(treesBinary, leaseOnlyJob(s, "app@r1"))
        var leaseID = ""
        #expect(try eventually {
            let rows = try json(try s.trees(["lease", "list", "--json"]).stdout) as? [[String: Any]] ?? []
            leaseID = rows.first?["id"] as? String ?? ""
            return !leaseID.isEmpty
        })
        #expect(try s.trees(["pin", "app@r2"]).status == 0)

        let release = try member.trees(s, ["lease", "release", leaseID])
        #expect(release.status == 1, "\(release.stderr)")
        #expect(release.stderr.contains("operator"), "\(release.stderr)")
        let unpin = try member.trees(s, ["unpin", "app@r2"])
        #expect(unpin.status == 1, "\(unpin.stderr)")
        #expect(try member.trees(s, ["lease", "acquire", "app@r3", "--pid", String(job.pid)]).status == 1)
        let rows = try json(try s.trees(["list", "--json"]).stdout) as? [[String: Any]] ?? []
        #expect(rows.first { $0["rev"] as? String == "r2" }?["pinned"] as? Bool == true)

        // The operator's next command made the database private again: the
        // member may neither write nor read it...
        #expect(try sqlite(s, "DELETE FROM leases", as: member).status != 0)
        // ...and even the row deleted behind trees' back leaves the job's tree alone.
        #expect(try sqlite(s, "DELETE FROM leases").status == 0)
        let gc = try s.trees(["gc", "--min-age", "0", "--keep", "0", "--json"])
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(gc.stderr.contains("writable by its group"), "\(gc.stderr)")
        #expect(try gcRevs(gc, "kept").isSuperset(of: ["r1", "r2"]), "\(gc.stdout)")
        // ...and with `.trees` writable by others gc deletes nothing at all
        // (RedTeamTests.aGroupWithWriteAccessCannotRenameALeaseLockAside).
        #expect(try gcReason(gc, "r1").contains("writable by its group"), "\(gc.stdout)")
        #expect(revsOnDisk(s).contains("r1"))
        job.stop()
    }

    @Test(.enabled(if: canMakeUsers, "needs root, useradd and setpriv"))
    func eachRoleAsItsOwnUser() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2", "r3", "r4"])
        let group = try TestGroup()
        let member = try TestUser(in: group)
        let outsider = try TestUser()
        try grantHolders(s, group)
        #expect(try s.trees(["pin", "app@r3"]).status == 0)

        // A job user holds its tree through the lock alone, without a record.
        let job = try member.background(treesBinaryForAnyUser, leaseOnlyJob(s, "app@r1"))
        #expect(try eventually { try isLocked(s.root + "/.trees/leases/app@r1.lock") })
        // ...and may change nothing.
        for args in [["pin", "app@r2"], ["unpin", "app@r3"], ["gc", "--min-age", "0", "--keep", "0"], ["remove", "app@r2"],
                     ["lease", "acquire", "app@r2"], ["lease", "release", "nosuch"]] {
            let r = try member.trees(s, args)
            #expect(r.status != 0, "member: trees \(args) succeeded")
        }
        // An outsider may not open the lock: the job runs, tracked through /proc, with a warning.
        let loose = try outsider.trees(s, ["exec", "app@r2", "--no-chdir", "--", "/bin/true"])
        #expect(loose.status == 0, "\(loose.stderr)")
        #expect(loose.stderr.contains("without a lease"), "\(loose.stderr)")
        #expect(try outsider.trees(s, ["exec", "app@r2", "--require-lease", "--", "/bin/true"]).status == 1)

        // The operator's gc keeps the member's tree and the pinned one, deletes the rest.
        let gc = try s.trees(["gc", "--min-age", "0", "--keep", "0", "--json"])
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(try gcReason(gc, "r1") == "in use (lease lock held)", "\(gc.stdout)")
        #expect(try gcRevs(gc, "deleted") == ["r2"], "\(gc.stdout)")
        #expect(try gcReason(gc, "r3") == "pinned")
        job.stop()
        #expect(try eventually { try !isLocked(s.root + "/.trees/leases/app@r1.lock") })
        let after = try s.trees(["gc", "--min-age", "0", "--keep", "0", "--json"])
        #expect(try gcRevs(after, "deleted") == ["r1"], "\(after.stdout)")
    }

    @Test(.enabled(if: canMakeUsers && hasSQLite3, "needs root, useradd, setpriv and sqlite3"))
    func jobUserCannotStartInATreeBeingCollected() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        let group = try TestGroup()
        let member = try TestUser(in: group)
        try grantHolders(s, group)
        let marks = s.path + "/marks"
        mkdir(marks, 0o777)
        chmod(marks, 0o777)
        let lockPath = s.root + "/.trees/leases/app@r1.lock"
        for state in ["condemned", "deleting"] {
            // As gc does from condemning a tree until it is deleted or back
            // to ready: the state in the record, the lease lock held exclusive.
            #expect(try sqlite(s, "UPDATE trees SET state = '\(state)' WHERE rev = 'r1'").status == 0)
            let gc = try Background("/usr/bin/flock", ["-o", "-x", lockPath, "/bin/sleep", "30"])
            #expect(try eventually { try isLocked(lockPath) })
            let r = try member.trees(s, ["exec", "app@r1", "--", "/bin/sh", "-c", "touch \(marks)/\(state)"],
                                     environment: ["TREES_LOCK_TIMEOUT": "1"])
            #expect(r.status == 75, "\(state): \(r.status) \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: "\(marks)/\(state)"), "a job started in a \(state) tree")
            gc.stop()
        }
        #expect(try sqlite(s, "UPDATE trees SET state = 'ready' WHERE rev = 'r1'").status == 0)
        let ok = try member.trees(s, ["exec", "app@r1", "--", "/bin/sh", "-c", "touch \(marks)/ready"])
        #expect(ok.status == 0, "\(ok.stderr)")
    }
}
