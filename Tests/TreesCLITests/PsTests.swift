import Foundation
import Testing

@Suite("trees ps")
struct PsTests {
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
            jobs.append(("maps", try mappingJob(python, in: tree)))
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

    @Test(.enabled(if: Facility.canDropPrivileges, "needs root and setpriv"), .uninspectableProcesses)
    func uninspectableProcessesAreReportedUnknown() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        chmod(s.path, 0o755)
        let rootJob = try Background("/bin/sleep", ["30"], cwd: "/")
        // As an unprivileged user, root's processes cannot be inspected:
        // they are unknown all together, in one row (pid 0) that says why
        // and what is missing, not one row each (issue 14).
        let r = try run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", treesBinaryForAnyUser,
                                             "ps", "--root", s.root, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let out = try json(r.stdout) as! [String: Any]
        let unknown = out["unknown"] as! [[String: Any]]
        let summary = unknown.first { $0["pid"] as? Int == 0 }?["reason"] as? String ?? ""
        #expect(summary.contains("other users") && summary.contains("CAP_SYS_PTRACE"), "\(unknown.prefix(3))")
        #expect(!unknown.contains { $0["pid"] as? Int == Int(rootJob.pid) }, "\(unknown.prefix(3))")
    }

    @Test(.enabled(if: Facility.hasPython3, "needs python3"))
    func aCommandLineCannotForgeALineOfOutput() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        // argv[0] holds a newline and what would look like another row.
        let job = try Background("/usr/bin/python3", ["-c",
            "import os; os.execv('/bin/sleep', ['sleep\\n4242  app@r1  forged', '30'])"], cwd: s.root + "/app/r1")
        #expect(try eventually { try psEvidence(s)["\(job.pid) app@r1"] != nil })
        let text = try s.trees(["ps"]).stdout
        #expect(!text.split(separator: "\n").contains { $0.hasPrefix("4242") }, "\(text)")
        #expect(text.contains("sleep\\x0a4242"), "\(text)")
    }
}
