import Foundation
import Testing
import TreesCore

/// The state letter from `/proc/PID/stat`, nil when the process is gone.
private func state(_ pid: Int32) -> Character? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let paren = text.lastIndex(of: ")") else { return nil }
    return text[paren...].dropFirst(2).first
}

/// Whether `pid` runs (exists and is no zombie).
private func runs(_ pid: Int32) -> Bool {
    guard let s = state(pid) else { return false }
    return s != "Z" && s != "X"
}

/// The start time (field 22 of `/proc/PID/stat`), to tell a process from another with its pid.
private func startTime(_ pid: Int32) -> String? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let paren = text.lastIndex(of: ")") else { return nil }
    let fields = text[text.index(after: paren)...].split(separator: " ")
    return fields.count > 19 ? String(fields[19]) : nil
}

/// `trees drain --json` output: one object per line.
private func events(_ r: RunResult) throws -> [[String: Any]] {
    try r.stdout.split(separator: "\n").map { try json(String($0)) as? [String: Any] ?? [:] }
}

/// The pids each `signal` event of `events` sent `signal` to.
private func signalled(_ events: [[String: Any]], _ signal: String) -> Set<Int32> {
    Set(events.filter { $0["event"] as? String == "signal" && $0["signal"] as? String == signal }.compactMap { ($0["pid"] as? Int).map(Int32.init) })
}

/// A job that ignores SIGTERM (an ignored signal stays ignored across exec), sitting in `cwd`.
private func termIgnoringJob(cwd: String) throws -> Background {
    try signallableJob(["/bin/sh", "-c", "trap '' TERM; exec /bin/sleep 300"], cwd: cwd)
}

/// How many drains the database holds.
private func drainRows(_ s: Scratch) throws -> String {
    try run("/usr/bin/sqlite3", [s.root + "/.trees/state.db", "SELECT COUNT(*) FROM drains"]).stdout
        .trimmingCharacters(in: .whitespacesAndNewlines)
}

@Suite("trees drain", .enabled(if: Facility.hasPython3, "needs python3 (to run jobs with no signal blocked)"))
struct DrainTests {
    /// importd: r2 is activated while hour-long jobs run on r1; draining r1
    /// reaches r1's jobs and nothing else, and the log says whom it signalled.
    @Test func aDrainReachesOnlyTheOldTreesJobs() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        let old = try signallableJob(["/bin/sleep", "300"], cwd: s.root + "/app/r1")
        defer { old.stop() }
        let leased = try signallableJob([treesBinary, "exec", "--root", s.root, "app", "--", "/bin/sleep", "300"])
        defer { leased.stop() }
        #expect(try eventually { try psEvidence(s)["\(leased.pid) app@r1"]?.contains("lease") == true })
        try installRevs(s, ["r2"])
        let new = try signallableJob(["/bin/sleep", "300"], cwd: s.root + "/app/r2")
        defer { new.stop() }
        #expect(try eventually { try psEvidence(s)["\(new.pid) app@r2"] != nil })

        let r = try s.trees(["drain", "app@r1", "--signal", "TERM", "--then", "KILL@2h", "--timeout", "30", "--json"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let lines = try events(r)
        #expect(signalled(lines, "TERM") == [old.pid, leased.pid], "\(r.stdout)")
        #expect(signalled(lines, "KILL").isEmpty)
        let exited = Set(lines.filter { $0["event"] as? String == "exited" }.compactMap { ($0["pid"] as? Int).map(Int32.init) })
        #expect(exited == [old.pid, leased.pid], "\(r.stdout)")
        let summary = try #require(lines.last)
        #expect(summary["event"] as? String == "summary" && summary["drained"] as? Bool == true)
        #expect(runs(new.pid), "r2's job was signalled")
        #expect(!runs(old.pid) && !runs(leased.pid))
        let log = try s.trees(["log", "app", "--json"])
        let entries = try json(log.stdout) as? [[String: Any]] ?? []
        let signals = entries.filter { $0["event"] as? String == "signalled" }.compactMap { $0["detail"] as? String }
        #expect(signals.count == 2 && signals.allSatisfy { $0.hasPrefix("TERM to pid ") && $0.contains("evidence") }, "\(signals)")
        #expect(entries.contains { $0["event"] as? String == "drained" && $0["rev"] as? String == "r1" })
    }

    /// A release's own protocol, declared at install, is what a drain
    /// given no --signal uses; a command-line protocol other than the one
    /// under way is refused.
    @Test func aReleaseDeclaresItsOwnProtocol() throws {
        let s = try Scratch()
        try s.write("src/lib/f", "1\n")
        #expect(try s.trees(["install", "app@r1", s.path + "/src", "--drain", "sigusr1,TERM@+1h"]).status == 0)
        try installRevs(s, ["r2"])
        let worker = try signallableJob(["/bin/sleep", "300"], cwd: s.root + "/app/r1")
        defer { worker.stop() }
        #expect(try eventually { try psEvidence(s)["\(worker.pid) app@r1"] != nil })
        let r = try s.trees(["drain", "app@r1", "--timeout", "20", "--json"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let lines = try events(r)
        #expect(lines.first?["protocol"] as? String == "USR1,TERM@+1h")
        #expect(signalled(lines, "USR1") == [worker.pid])
        let other = try s.trees(["drain", "app@r1", "--signal", "INT"])
        #expect(other.status == 64 && other.stderr.contains("under way"), "\(other.stderr)")
    }

    /// A job that ignores TERM survives a drain that only asks, which times
    /// out naming it (75); KILL is sent only when a step asks for it.
    @Test func escalationToKillOnlyWhenAsked() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        let worker = try termIgnoringJob(cwd: s.root + "/app/r1")
        defer { worker.stop() }
        #expect(try eventually { try psEvidence(s)["\(worker.pid) app@r1"] != nil })
        let asked = try s.trees(["drain", "app@r1", "--timeout", "3"])
        #expect(asked.status == 75, "\(asked.stdout)\(asked.stderr)")
        #expect(asked.stdout.contains("TERM to pid \(worker.pid)"), "\(asked.stdout)")
        #expect(asked.stderr.contains("timed out") && asked.stderr.contains("pid \(worker.pid)"), "\(asked.stderr)")
        #expect(runs(worker.pid))
        // Run again, the drain resumes: TERM is not sent twice, and still no KILL.
        let again = try s.trees(["drain", "app@r1", "--timeout", "2", "--json"])
        #expect(again.status == 75)
        #expect(signalled(try events(again), "TERM").isEmpty, "\(again.stdout)")
        #expect(runs(worker.pid))
        #expect(try s.trees(["drain", "--cancel", "app@r1"]).status == 0)
        let killed = try s.trees(["drain", "app@r1", "--signal", "TERM", "--then", "KILL@+1s", "--timeout", "30", "--json"])
        #expect(killed.status == 0, "\(killed.stdout)\(killed.stderr)")
        let lines = try events(killed)
        #expect(signalled(lines, "TERM") == [worker.pid] && signalled(lines, "KILL") == [worker.pid], "\(killed.stdout)")
        #expect(!runs(worker.pid))
    }

    /// A job that double-forks: without a cgroup, /proc evidence (its cwd
    /// and environment) finds the orphaned grandchild, which `ps --stale`
    /// lists as running from a tree that is not current; the drain ends both.
    @Test func aDoubleForkingJobIsDrainedThroughProcEvidence() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        let pidFile = s.path + "/grandchild.pid"
        let worker = try signallableJob([treesBinary, "exec", "--root", s.root, "app", "--", "/bin/sh", "-c",
            "(/bin/sleep 300 </dev/null >/dev/null 2>&1 & echo $! > \(pidFile).tmp); mv \(pidFile).tmp \(pidFile); exec /bin/sleep 300"])
        defer { worker.stop() }
        #expect(eventually { FileManager.default.fileExists(atPath: pidFile) })
        let grandchild = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        worker.extraPIDs.append(grandchild)
        try installRevs(s, ["r2"])
        #expect(try eventually { try psEvidence(s)["\(grandchild) app@r1"] != nil })

        let stale = try s.trees(["ps", "--stale", "--json"])
        let rows = (try json(stale.stdout) as? [String: Any])?["processes"] as? [[String: Any]] ?? []
        let row = try #require(rows.first { $0["pid"] as? Int == Int(grandchild) }, "\(stale.stdout)")
        #expect(row["current"] as? Bool == false && row["current_rev"] as? String == "r2")
        #expect(!rows.contains { ($0["tree"] as? [String: String])?["rev"] == "r2" })
        let table = try s.trees(["ps", "--stale"]).stdout
        #expect(table.contains("app@r1 (not current; current is r2)"), "\(table)")

        let r = try s.trees(["drain", "app@r1", "--timeout", "30", "--json"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(signalled(try events(r), "TERM").isSuperset(of: [worker.pid, grandchild]), "\(r.stdout)")
        #expect(eventually { !runs(grandchild) && !runs(worker.pid) })
    }

    /// With `exec --cgroup`, a grandchild that left the tree and cleared
    /// its environment is tied to it by its cgroup alone: the drain
    /// signals the group, and a KILL step kills it whole (cgroup.kill).
    @Test(.enabled(if: Facility.hasWritableCgroup, "needs a writable cgroup v2 hierarchy"))
    func aDoubleForkingJobInACgroupIsDrainedAsAGroup() throws {
        let parent = try #require(TestCgroupParent())
        let s = try Scratch()
        let name = "dr-" + UUID().uuidString.prefix(8).lowercased()
        try s.write("src/lib/f", "1\n")
        #expect(try s.trees(["install", "\(name)@r1", s.path + "/src", "--activate"]).status == 0)
        let pidFile = s.path + "/grandchild.pid"
        let worker = try signallableJob([
            treesBinary, "exec", "--root", s.root, name, "--cgroup", "--cgroup-parent", parent.relative, "--", "/bin/sh", "-c",
            "trap '' TERM; cd /; (env -i /bin/sleep 300 </dev/null >/dev/null 2>&1 & echo $! > \(pidFile).tmp); mv \(pidFile).tmp \(pidFile); exec /bin/sleep 300",
        ])
        defer { worker.stop() }
        #expect(eventually { FileManager.default.fileExists(atPath: pidFile) })
        let grandchild = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        worker.extraPIDs.append(grandchild)
        #expect(try eventually { try psEvidence(s)["\(grandchild) \(name)@r1"] == ["cgroup"] })
        try s.write("src2/lib/f", "2\n")
        #expect(try s.trees(["install", "\(name)@r2", s.path + "/src2", "--activate"]).status == 0)

        let r = try s.trees(["drain", "\(name)@r1", "--signal", "TERM", "--then", "KILL@+1s", "--timeout", "30", "--json"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let lines = try events(r)
        #expect(signalled(lines, "TERM").isSuperset(of: [worker.pid, grandchild]), "\(r.stdout)")
        #expect(lines.contains { $0["event"] as? String == "cgroup-kill" }, "\(r.stdout)")
        #expect(eventually { !runs(grandchild) && !runs(worker.pid) })
    }

    /// The drain's schedule lives in the database: a drain killed mid-way
    /// and run again resumes on the same clock (KILL@10s comes ten seconds
    /// after the first run began, not after the second) and does not send
    /// the first step again.
    @Test func aKilledDrainResumesItsSchedule() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        let worker = try termIgnoringJob(cwd: s.root + "/app/r1")
        defer { worker.stop() }
        #expect(try eventually { try psEvidence(s)["\(worker.pid) app@r1"] != nil })
        let began = Date()
        let first = try Background(treesBinary, ["drain", "--root", s.root, "app@r1", "--signal", "TERM", "--then", "KILL@10s"])
        #expect(try eventually(20) { try s.trees(["log", "--json"]).stdout.contains("TERM to pid \(worker.pid)") })
        // One drain process per tree: a second is refused while the first runs.
        let second = try s.trees(["drain", "app@r1", "--timeout", "1"])
        #expect(second.status == 75 && second.stderr.contains("another trees drain (pid \(first.pid))"), "\(second.stderr)")
        kill(first.pid, SIGKILL)
        first.stop()
        #expect(runs(worker.pid))
        let resumed = Date()
        let r = try s.trees(["drain", "app@r1", "--timeout", "30", "--json"])
        let took = Date().timeIntervalSince(resumed)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let lines = try events(r)
        #expect(lines.first?["resumed"] as? Bool == true, "\(r.stdout)")
        #expect(signalled(lines, "TERM").isEmpty && signalled(lines, "KILL") == [worker.pid], "\(r.stdout)")
        #expect(!runs(worker.pid))
        // KILL came when the first run's clock said, not ten seconds after the second began.
        #expect(Date().timeIntervalSince(began) >= 9)
        #expect(took < 10 - resumed.timeIntervalSince(began) + 3, "took \(took) s")
    }

    /// A pid that another process took over while the drain ran (its job
    /// exited, the kernel handed the pid out again) is never signalled: the
    /// recorded identity (start time) no longer matches.
    @Test(.enabled(if: Facility.isRoot && access("/proc/sys/kernel/ns_last_pid", W_OK) == 0, "needs a writable ns_last_pid"))
    func aPidReusedMidDrainIsNeverSignalled() throws {
        let nsLastPID = "/proc/sys/kernel/ns_last_pid"
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        // The victim holds r1 by its lease alone, and ignores the first step.
        let first = try signallableJob(["/bin/sh", "-c", "trap '' USR1; exec /bin/sleep 300"], cwd: "/")
        let victim = first.pid
        #expect(try s.trees(["lease", "acquire", "app@r1", "--pid", String(victim)]).status == 0)
        let r = try s.trees(["drain", "app@r1", "--signal", "USR1", "--then", "TERM@+1h", "--timeout", "2", "--json"])
        #expect(try r.status == 75 && signalled(events(r), "USR1") == [victim], "\(r.stdout)\(r.stderr)")
        let victimStart = startTime(victim)
        first.stop()
        var reused: Background?
        let original = try String(contentsOfFile: nsLastPID, encoding: .utf8)
        for _ in 0..<200 {
            try? String(victim - 1).write(toFile: nsLastPID, atomically: false, encoding: .utf8)
            let candidate = try signallableJob(["/bin/sleep", "300"], cwd: "/")
            if candidate.pid == victim { reused = candidate; break }
            candidate.stop()
        }
        try? original.trimmingCharacters(in: .whitespacesAndNewlines).write(toFile: nsLastPID, atomically: false, encoding: .utf8)
        let impostor = try #require(reused, "could not force pid reuse")
        defer { impostor.stop() }
        #expect(startTime(victim) != victimStart)
        let again = try s.trees(["drain", "app@r1", "--timeout", "10", "--json"])
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
        #expect(!again.stdout.contains("\"event\":\"signal\""), "\(again.stdout)")
        #expect(runs(impostor.pid), "the impostor was signalled")
    }

    /// The current revision is refused (64) without --include-current;
    /// a draining tree takes no new job (75) and cannot become current,
    /// until --cancel.
    @Test func theCurrentRevisionAndNewJobsAreRefused() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        let current = try s.trees(["drain", "app@r2"])
        #expect(current.status == 64 && current.stderr.contains("--include-current"), "\(current.stderr)")
        #expect(try drainRows(s) == "0")
        #expect(try s.trees(["exec", "app", "--", "/bin/true"]).status == 0)

        #expect(try s.trees(["drain", "app@r1"]).status == 0)
        let listed = try json(try s.trees(["list", "--json"]).stdout) as? [[String: Any]] ?? []
        #expect(listed.first { $0["rev"] as? String == "r1" }?["drain"] as? String == "drained")
        #expect(listed.first { $0["rev"] as? String == "r2" }?["drain"] == nil)
        let exec = try s.trees(["exec", "app@r1", "--", "/bin/true"])
        #expect(exec.status == 75 && exec.stderr.contains("being drained"), "\(exec.stderr)")
        let sleeper = try Background("/bin/sleep", ["300"], cwd: "/")
        defer { sleeper.stop() }
        #expect(try s.trees(["lease", "acquire", "app@r1", "--pid", String(sleeper.pid)]).status == 75)
        #expect(try s.trees(["activate", "app@r1"]).status == 75)
        #expect(try s.trees(["log", "--json"]).stdout.contains("being drained"))

        #expect(try s.trees(["drain", "app@r2", "--include-current"]).status == 0)
        #expect(try s.trees(["exec", "app", "--", "/bin/true"]).status == 75)
        for rev in ["r1", "r2"] { #expect(try s.trees(["drain", "--cancel", "app@\(rev)"]).status == 0) }
        #expect(try drainRows(s) == "0")
        #expect(try s.trees(["exec", "app@r1", "--", "/bin/true"]).status == 0)
        #expect(try s.trees(["activate", "app@r1"]).status == 0)
        #expect(try s.trees(["drain", "app@nosuch"]).status == 66)
        #expect(try s.trees(["drain", "--cancel", "app@nosuch"]).status == 66)
    }

    /// A drain run from a shell (or a rollout script) sitting in the tree
    /// never signals its own caller, which still holds the tree: with no
    /// --timeout it does not wait for it for ever either (75 at once).
    @Test func aDrainNeverSignalsItsCaller() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        let unblock = "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])"
        let r = try run("/usr/bin/python3", ["-c", unblock, "/bin/sh", "-c",
            "cd \(s.root)/app/r1 && \(treesBinary) drain --root \(s.root) app@r1 --json; echo status=$?"])
        #expect(r.stdout.hasSuffix("status=75\n"), "\(r.stdout)\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").dropLast().compactMap { try? json(String($0)) as? [String: Any] }
        #expect(lines.contains { $0["event"] as? String == "skipped" && ($0["reason"] as? String ?? "").contains("ancestor") }, "\(r.stdout)")
        #expect(!r.stdout.contains("\"event\":\"signal\""), "\(r.stdout)")
    }

    /// A process that cannot be inspected (another user's, to a drain
    /// without CAP_SYS_PTRACE) is listed and never signalled, and the drain
    /// exits 75 while it remains.
    @Test(.enabled(if: Facility.canDropPrivileges, "needs root and setpriv"), .uninspectableProcesses)
    func uninspectableProcessesAreNeverSignalled() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        chmod(s.path, 0o755)
        let other = try signallableJob(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/bin/sleep", "300"],
                                   cwd: s.root + "/app/r1")
        defer { other.stop() }
        #expect(eventually { (try? String(contentsOfFile: "/proc/\(other.pid)/comm", encoding: .utf8)) == "sleep\n" })
        let r = try run("/usr/bin/setpriv", ["--bounding-set=-sys_ptrace,-dac_read_search", "--inh-caps=-sys_ptrace,-dac_read_search",
                                             treesBinary, "drain", "--root", s.root, "app@r1", "--timeout", "3", "--json"])
        #expect(r.status == 75, "\(r.stdout)\(r.stderr)")
        let summary = try #require(try events(r).last)
        #expect(summary["drained"] as? Bool == false && !((summary["unknown"] as? [Any]) ?? []).isEmpty, "\(r.stdout)")
        #expect(!r.stdout.contains("\"event\":\"signal\""), "\(r.stdout)")
        #expect(runs(other.pid), "an uninspectable process was signalled")
    }

    /// Hostile protocols and arguments: 64 or 65, and nothing changes.
    @Test(arguments: [
        (["--signal", "TERM@"], 65), (["--signal", "@2h"], 65), (["--signal", "NOSUCHSIG"], 65),
        (["--signal", "TERM", "--then", "KILL@-1s"], 65), (["--signal", "TERM", "--then", "KILL@99999999999d"], 65),
        (["--signal", "TERM", "--then", "KILL@367d"], 65), (["--signal", "TERM", "--then", "KILL"], 65),
        (["--signal", "KILL", "--then", "TERM@1h"], 65), (["--signal", "TERM@1h", "--then", "KILL@30m"], 65),
        (["--signal", "0"], 65), (["--signal", "TERM,KILL@1h"], 65), (["--signal", ""], 65),
        (["--then", "KILL@1h"], 64), (["--cancel", "--signal", "TERM"], 64), (["--timeout", "-1"], 64),
    ] as [([String], Int32)])
    func hostileProtocolsChangeNothing(_ arguments: [String], _ status: Int32) throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        let before = try s.trees(["log", "--json"]).stdout
        let r = try s.trees(["drain", "app@r1"] + arguments)
        #expect(r.status == status, "\(arguments): \(r.stderr)")
        #expect(try s.trees(["log", "--json"]).stdout == before)
        #expect(try drainRows(s) == "0")
        if status == 65 && arguments.count == 2 && !arguments[1].contains(",") {
            let install = try s.trees(["install", "app@r3", s.path + "/src-r1", "--drain", arguments[1]])
            #expect(install.status == 65, "\(install.stderr)")
            #expect(!s.exists("root/app/r3"))
        }
    }
}
