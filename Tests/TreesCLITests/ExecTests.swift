import Foundation
import Testing

@Suite("trees exec")
struct ExecTests {
    /// Started by a supervisor that blocks signals (Foundation's `Process`
    /// can hand its threads' mask on), the job still starts with none
    /// blocked, so a drain's TERM reaches it.
    @Test(.enabled(if: Facility.hasPython3, "needs python3"))
    func theJobStartsWithNoSignalBlocked() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        // A supervisor that blocks TERM and USR1, then runs its argument.
        let blocking = ["-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGUSR1}); os.execv(sys.argv[1], sys.argv[1:])"]
        let report = ["/bin/grep", "^SigBlk", "/proc/self/status"]
        let plain = try run("/usr/bin/python3", blocking + report)
        #expect(!plain.stdout.contains("SigBlk:\t0000000000000000"), "the supervisor blocks nothing: \(plain.stdout)")
        let job = try run("/usr/bin/python3", blocking + [treesBinary, "exec", "--root", s.root, "app", "--"] + report)
        #expect(job.status == 0, "\(job.stderr)")
        #expect(job.stdout.contains("SigBlk:\t0000000000000000"), "\(job.stdout)")
    }

    @Test func execJobKeepsItsRevisionAndLeaseAfterActivate() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        let job = try Background(treesBinary, ["exec", "--root", s.root, "app", "--", "/bin/sleep", "30"])
        #expect(try eventually { try psEvidence(s)["\(job.pid) app@r1"]?.contains("lease") == true })
        try installRevs(s, ["r2"])
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: s.root + "/app/current") == "r2")
        let evidence = try psEvidence(s)["\(job.pid) app@r1"] ?? []
        // exec replaced itself: the lease's pid is the job's pid, its cwd is the tree.
        #expect(evidence.isSuperset(of: ["lease", "cwd", "environ"]), "\(evidence)")
        let environ = try String(decoding: Data(contentsOf: URL(fileURLWithPath: "/proc/\(job.pid)/environ")), as: UTF8.self)
            .split(separator: "\0").map(String.init)
        #expect(environ.contains("TREES_TREE=app@r1"))
        #expect(environ.contains("TREES_TREE_PATH=\(s.root)/app/r1"))
        #expect(environ.contains { $0.hasPrefix("TREES_LEASE=") })
        let leases = try json(try s.trees(["lease", "list", "--json"]).stdout) as! [[String: Any]]
        #expect(leases.count == 1 && leases[0]["pid"] as? Int == Int(job.pid) && leases[0]["live"] as? Bool == true)
        let list = try json(try s.trees(["list", "--jobs", "--json"]).stdout) as! [[String: Any]]
        let psText = try s.trees(["ps"]).stdout
        #expect(list.first { $0["rev"] as? String == "r1" }?["jobs"] as? Int == 1, "\(psText)")
        #expect(list.first { $0["rev"] as? String == "r2" }?["jobs"] as? Int == 0)
        // Without --jobs, the count is the live leases, from the database alone.
        let quick = try json(try s.trees(["list", "--json"]).stdout) as! [[String: Any]]
        #expect(quick.first { $0["rev"] as? String == "r1" }?["leases"] as? Int == 1)
        #expect(quick.first { $0["rev"] as? String == "r1" }?["jobs"] == nil)
        job.stop()
        // Its lease is dead once it exits.
        let after = try json(try s.trees(["lease", "list", "--json"]).stdout) as! [[String: Any]]
        #expect(after.first?["live"] as? Bool == false)
        #expect(try psEvidence(s).keys.filter { $0.hasSuffix("app@r1") }.isEmpty)
    }

    @Test func doubleForkedGrandchildWithEnvironmentStillCounts() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        let pidFile = s.path + "/grandchild.pid"
        // The child forks a grandchild into the background, leaves the tree and exits.
        // (A Background, not run(): Foundation leaks the output pipe into the grandchild.)
        let child = try Background(treesBinary, ["exec", "--root", s.root, "app", "--", "/bin/sh", "-c",
                                                 "cd /; (/bin/sleep 30 </dev/null >/dev/null 2>&1 & echo $! > \(pidFile).tmp); mv \(pidFile).tmp \(pidFile); exit 0"])
        #expect(eventually { FileManager.default.fileExists(atPath: pidFile) })
        let pid = Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
        defer { kill(pid, SIGKILL) }
        let evidence = try psEvidence(s)["\(pid) app@r1"] ?? []
        #expect(evidence == ["environ"], "\(evidence)")
        let wait = try s.trees(["wait", "app@r1", "--timeout", "1"])
        #expect(wait.status == 75)
        #expect(wait.stderr.contains("pid \(pid)"))
    }

    @Test func execExitStatusesAndNotReadyTrees() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        #expect(try s.trees(["exec", "app", "--", "/no/such/command"]).status == 127)
        try s.write("notexec", "#!/bin/sh\n")
        #expect(try s.trees(["exec", "app", "--", s.path + "/notexec"]).status == 126)
        #expect(try s.trees(["exec", "app@r9", "--", "/bin/true"]).status == 66)
        #expect(try s.trees(["exec", "other", "--", "/bin/true"]).status == 66)
        let ok = try s.trees(["exec", "app", "--", "/bin/sh", "-c", "pwd; echo $TREES_TREE; exit 3"])
        #expect(ok.status == 3)
        #expect(ok.stdout == "\(s.root)/app/r1\napp@r1\n")
        let stay = try s.trees(["exec", "app", "--no-chdir", "--", "/bin/pwd"])
        #expect(stay.stdout != "\(s.root)/app/r1\n")
        // Failed execs give their lease back: only the two jobs that ran keep
        // a (dead) row until gc prunes it.
        let leases = try json(try s.trees(["lease", "list", "--json"]).stdout) as! [[String: Any]]
        #expect(leases.allSatisfy { $0["live"] as? Bool == false })
        let commands = leases.compactMap { $0["command"] as? String }
        #expect(leases.count == 2, "\(commands)")
        #expect(!commands.contains { $0.contains("/no/such/command") || $0.contains("notexec") }, "\(commands)")
    }
}
