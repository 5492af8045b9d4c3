import Foundation
import Testing

@Suite("leases, /proc evidence, ps and wait")
struct ProcessTests {
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

    @Test func unleasedProcessesAreFoundByEachKindOfEvidence() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        let tree = s.root + "/app/r1"
        var jobs: [(String, Background)] = []
        jobs.append(("cwd", try Background("/bin/sh", ["-c", "exec /bin/sleep 30"], cwd: tree)))
        jobs.append(("fd", try Background("/bin/sh", ["-c", "exec 7< lib/f0.txt; cd /; exec /bin/sleep 30"], cwd: tree)))
        jobs.append(("environ", try Background("/bin/sleep", ["30"], environment: ["TREES_TREE": "app@r1", "TREES_ROOT": s.root], cwd: "/")))
        jobs.append(("cmdline", try Background("/bin/sh", ["-c", "/bin/sleep 30", "\(tree)/job.sh"], cwd: "/")))
        let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : nil
        if let python {
            // An interpreted job holds nothing but its command line.
            jobs.append(("cmdline", try Background(python, ["\(tree)/job.py"], cwd: "/")))
            // A mapping outlives the descriptor it was made from.
            jobs.append(("maps", try Background(python, ["-c", """
                import mmap, os, time
                f = open('lib/f1.txt', 'rb')
                m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
                f.close()
                os.chdir('/')
                time.sleep(30)
                """], cwd: tree)))
        }
        // A process with nothing to do with any tree, started before the
        // scans below so that they could see it.
        let bystander = try Background("/bin/sleep", ["30"], cwd: "/")
        // Give each job a moment to reach its final state (exec, mmap, chdir).
        var found: [String: Set<String>] = [:]
        _ = try eventually {
            found = try psEvidence(s)
            return jobs.allSatisfy { found["\($0.1.pid) app@r1"]?.contains($0.0) == true }
        }
        for (kind, job) in jobs {
            let evidence = found["\(job.pid) app@r1"] ?? []
            #expect(evidence.contains(kind), "\(kind) job \(job.pid): \(evidence)")
        }
        // The bystander is not listed.
        #expect(kill(bystander.pid, 0) == 0)
        #expect(found.keys.filter { $0.hasPrefix("\(bystander.pid) ") }.isEmpty)
        #expect(try s.trees(["wait", "app@r1", "--timeout", "1"]).status == 75)
    }

    /// A lease from another boot is judged dead by the core
    /// (`LeaseAPITests`, with the boot id a ProcessProbe parameter); no
    /// environment variable can make the CLI pretend a reboot
    /// (`LeaseAttackTests.testBootIDVariableDoesNotDropLiveLeases`).
    @Test func leaseAcquireListAndRelease() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        let holder = try Background("/bin/sleep", ["30"], cwd: "/")
        let id = try s.trees(["lease", "acquire", "app", "--pid", String(holder.pid)])
        #expect(id.status == 0, "\(id.stderr)")
        let now = try json(try s.trees(["lease", "list", "--json"]).stdout) as! [[String: Any]]
        #expect(now.first?["liveness"] as? String == "live")
        #expect(try s.trees(["lease", "release", id.stdout.trimmingCharacters(in: .whitespacesAndNewlines)]).status == 0)
        #expect(try s.trees(["lease", "release", "nosuch"]).status == 66)
    }

    @Test func leaseWhosePidWasReusedIsDead() throws {
        let nsLastPID = "/proc/sys/kernel/ns_last_pid"
        guard let original = try? String(contentsOfFile: nsLastPID, encoding: .utf8), access(nsLastPID, W_OK) == 0 else {
            return // the facility is missing here: nothing to test
        }
        let s = try Scratch()
        try installRevs(s, ["r1"])
        let first = try Background("/bin/sleep", ["30"], cwd: "/")
        let victim = first.pid
        #expect(try s.trees(["lease", "acquire", "app@r1", "--pid", String(victim)]).status == 0)
        first.stop()
        // Ask the kernel to hand out the same pid again; other tests spawn too, so retry.
        var reused: Background?
        for _ in 0..<200 {
            try? String(victim - 1).write(toFile: nsLastPID, atomically: false, encoding: .utf8)
            let candidate = try Background("/bin/sleep", ["30"], cwd: "/")
            if candidate.pid == victim { reused = candidate; break }
            candidate.stop()
        }
        try? original.trimmingCharacters(in: .whitespacesAndNewlines).write(toFile: nsLastPID, atomically: false, encoding: .utf8)
        let impostor = try #require(reused, "could not force pid reuse")
        defer { impostor.stop() }
        let leases = try json(try s.trees(["lease", "list", "--json"]).stdout) as! [[String: Any]]
        #expect(leases.first?["liveness"] as? String == "pid-reused")
        #expect(try psEvidence(s)["\(victim) app@r1"] == nil)
        #expect(try s.trees(["wait", "app@r1", "--timeout", "5"]).status == 0)
    }

    @Test func waitReturnsSoonAfterTheLastJobExits() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        let job = try Background(treesBinary, ["exec", "--root", s.root, "app", "--", "/bin/sleep", "2"])
        #expect(try eventually { try psEvidence(s)["\(job.pid) app@r1"] != nil })
        let started = Date()
        let r = try s.trees(["wait", "app@r1", "--timeout", "30"])
        let waited = Date().timeIntervalSince(started)
        #expect(r.status == 0, "\(r.stderr)")
        // The job had under 2 s left when wait started; polling its pidfd wakes wait at once.
        #expect(waited < 2.5, "wait took \(waited)s for a 2s job")
        #expect(try s.trees(["wait", "app@r1", "--timeout", "5x"]).status == 64)
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

    @Test(.enabled(if: Facility.canDropPrivileges, "needs root and setpriv"))
    func uninspectableProcessesAreReportedUnknown() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        chmod(s.path, 0o755)
        let rootJob = try Background("/bin/sleep", ["30"], cwd: "/")
        // As an unprivileged user, root's processes cannot be inspected.
        let r = try run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", treesBinary,
                                             "ps", "--root", s.root, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let out = try json(r.stdout) as! [String: Any]
        let unknown = out["unknown"] as! [[String: Any]]
        #expect(unknown.contains { $0["pid"] as? Int == Int(rootJob.pid) }, "\(unknown.prefix(3))")
    }
}
