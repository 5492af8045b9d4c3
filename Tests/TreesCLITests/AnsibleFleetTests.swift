import Foundation
import Testing

/// What the three-host rollout needs of this machine, each missing piece named
/// (the test is skipped, saying which, only for these).
let sshFleetMissing: [String] = {
    var missing: [String] = []
    if getuid() != 0 { missing.append("root (network namespaces, veths, mounts)") }
    for program in ["/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/ssh-keygen", "/usr/bin/unshare", "/usr/bin/ansible-playbook"]
    where !FileManager.default.isExecutableFile(atPath: program) {
        missing.append(program)
    }
    let ip = ["/usr/sbin/ip", "/usr/bin/ip", "/sbin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }
    if ip == nil { missing.append("ip (iproute2)") }
    if missing.isEmpty {
        // Network, mount and pid namespaces, as fleet-up makes them (nothing is left behind).
        let probe = try? run("/usr/bin/unshare", ["--net", "--mount", "--uts", "--pid", "--fork", "--mount-proc", "/bin/true"])
        if probe?.status != 0 { missing.append("network, mount, UTS and pid namespaces (unshare: \(probe?.stderr ?? "did not run"))") }
        if (try? run(ip!, ["netns", "list"]))?.status != 0 { missing.append("ip netns") }
    }
    return missing
}()

/// issue 17's "Tested for real": the collection's rolling playbook over SSH
/// against three simulated hosts on this machine (fleet-up: an sshd each, in
/// network, mount, UTS and pid namespaces of its own, with trees installed
/// from the .deb contrib/package-deb builds).
@Suite("Ansible over SSH: a three-host rollout", .serialized)
struct AnsibleFleetTests {
    static let repository = fixtures.deletingLastPathComponent().path
    /// The collection: `contrib/ansible`, or TREES_ANSIBLE_COLLECTION (a checkout of it elsewhere).
    static let collection = ProcessInfo.processInfo.environment["TREES_ANSIBLE_COLLECTION"] ?? repository + "/contrib/ansible"
    static let integration = repository + "/contrib/ansible/tests/integration"

    /// The hosts fleet-up brought up in `work`.
    struct Fleet {
        let work: String
        let hosts = ["h1", "h2", "h3"]

        /// A command on one host, over SSH.
        func ssh(_ host: String, _ command: String) throws -> RunResult {
            try run(work + "/ssh", [host, command])
        }

        func current(_ host: String) throws -> String {
            try ssh(host, "readlink /srv/trees/app/current").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// `trees list app --json` on a host: rev → (verdict, state).
        func trees(_ host: String) throws -> [String: [String: Any]] {
            let r = try ssh(host, "trees list app --json")
            guard r.status == 0, let list = try json(r.stdout) as? [[String: Any]] else {
                throw TestFailure("trees list on \(host): \(r.status) \(r.stdout) \(r.stderr)")
            }
            var result: [String: [String: Any]] = [:]
            for tree in list { if let rev = tree["rev"] as? String { result[rev] = tree } }
            return result
        }

        /// Pids `trees ps NAME@REV --json` lists on a host.
        func pids(_ host: String, _ tree: String) throws -> [Int] {
            let r = try ssh(host, "trees ps \(tree) --json")
            guard r.status == 0, let out = try json(r.stdout) as? [String: Any],
                  let processes = out["processes"] as? [[String: Any]] else {
                throw TestFailure("trees ps on \(host): \(r.status) \(r.stdout) \(r.stderr)")
            }
            return processes.compactMap { $0["pid"] as? Int }
        }

        /// A release on every host, at /srv/build/app-REV: a check that fails where /srv/FAIL exists.
        func writeRelease(_ rev: String) throws {
            for host in hosts {
                let bin = "\(work)/\(host)/srv/build/app-\(rev)/bin"
                try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
                try "#!/bin/sh\nif [ -e /srv/FAIL ]; then echo \"app check: failing on $(hostname)\" >&2; exit 3; fi\nexit 0\n"
                    .write(toFile: bin + "/check", atomically: true, encoding: .utf8)
                try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bin + "/check")
                try "\(rev)\n".write(toFile: "\(work)/\(host)/srv/build/app-\(rev)/VERSION", atomically: true, encoding: .utf8)
            }
        }

        /// contrib/ansible/playbooks/rollout.yml for app@REV, its check bin/check, TERM as the release's drain protocol.
        func rollout(_ rev: String, _ extra: [String: String] = [:]) throws -> RunResult {
            var vars = ["trees_name": "app", "trees_rev": rev, "trees_src": "/srv/build/app-\(rev)",
                        "trees_check": "bin/check", "trees_within": "1m", "trees_drain_protocol": "TERM",
                        "trees_drain_timeout": "2m"]
            vars.merge(extra) { _, new in new }
            let start = Date()
            let r = try run("/usr/bin/ansible-playbook",
                            [AnsibleFleetTests.collection + "/playbooks/rollout.yml"]
                                + vars.sorted { $0.key < $1.key }.flatMap { ["-e", "\($0.key)=\($0.value)"] },
                            environment: ["ANSIBLE_CONFIG": work + "/ansible.cfg", "ANSIBLE_NOCOLOR": "1",
                                          "ANSIBLE_FORCE_COLOR": "0"],
                            cwd: work)
            print("== rollout.yml app@\(rev) \(extra.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")): "
                  + "exit \(r.status) in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
            return r
        }
    }

    /// The lines of the play recap.
    static func recap(_ output: String) -> String {
        guard let start = output.range(of: "PLAY RECAP") else { return "(no recap)" }
        return output[start.lowerBound...].split(separator: "\n").prefix(4).joined(separator: "\n")
    }

    /// The gate's answer as the playbook showed it (`trees_gate_answer`), and its summary line.
    static func gate(_ output: String) -> (shown: String, summary: String?) {
        guard let start = output.range(of: "TASK [Show it]") else { return ("(the gate did not run)", nil) }
        let rest = output[start.upperBound...]
        let end = rest.range(of: "\nTASK [")?.lowerBound ?? rest.endIndex
        let shown = rest[..<end].split(separator: "\n").dropFirst().joined(separator: "\n")
        let summary = shown.split(separator: "\n").first { $0.contains("\"summary\":") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        return (shown, summary)
    }

    @Test("r1 everywhere; a job holds r1 on h2 while r2 is rolled out: the gate says not complete; the drain by r1's protocol ends the job and the gate passes; r3's check fails on h2 in the first batch: that batch goes back to r2 and the rollout stops",
          .enabled(if: sshFleetMissing.isEmpty,
                   Comment(rawValue: "needs sshd, ip netns, unshare and ansible-playbook as root (contrib/bootstrap installs them): missing \(sshFleetMissing.joined(separator: ", "))")),
          .uninspectableProcesses, .timeLimit(.minutes(15)))
    func threeHostRollout() throws {
        let began = Date()
        let collection = Self.collection
        try #require(FileManager.default.fileExists(atPath: collection + "/playbooks/rollout.yml"),
                     "the collection trees.trees is not at \(collection) (contrib/ansible; or set TREES_ANSIBLE_COLLECTION)")
        let s = try Scratch()
        let fleet = Fleet(work: s.path + "/fleet")
        let up = try run(Self.integration + "/fleet-up", [fleet.work, "--hosts", "3", "--collection", collection,
                                                          "--deb", try builtPackage.get()])
        // Torn down whatever happens below, by the pids and namespaces fleet-up recorded.
        defer {
            let down = try? run(Self.integration + "/fleet-down", [fleet.work])
            #expect(down?.status == 0, "fleet-down: \(down?.stderr ?? "did not run")")
        }
        try #require(up.status == 0, "fleet-up: \(up.stdout)\n\(up.stderr)")
        print("== fleet-up: 3 hosts in \(String(format: "%.1f", Date().timeIntervalSince(began))) s (the .deb from contrib/package-deb, built once per test run)")
        print(try String(contentsOfFile: fleet.work + "/inventory.ini", encoding: .utf8)
            .replacingOccurrences(of: fleet.work, with: "WORK"))

        // Each host is its own: its hostname, /proc with only its own processes, trees from the package.
        for host in fleet.hosts {
            let r = try fleet.ssh(host, "hostname; readlink /proc/1/exe; command -v trees; ls /proc | grep -c '^[0-9]'")
            let lines = r.stdout.split(separator: "\n").map(String.init)
            #expect(r.status == 0 && lines.first == host, "\(host): \(r.stdout) \(r.stderr)")
            #expect(lines.dropFirst().first == "/usr/sbin/sshd", "pid 1 of \(host) is its sshd: \(lines)")
            #expect(lines.dropFirst(2).first == "/usr/bin/trees", "\(lines)")
            #expect(Int(lines.last ?? "") ?? 999 < 20, "\(host) sees only its own processes: \(lines)")
        }

        // r1 everywhere.
        for rev in ["r1", "r2", "r3"] { try fleet.writeRelease(rev) }
        let r1 = try fleet.rollout("r1")
        #expect(r1.status == 0, "\(r1.stdout.suffix(3000))\n\(r1.stderr.suffix(2000))")
        print(Self.recap(r1.stdout))
        print("gate: \(Self.gate(r1.stdout).summary ?? "none")")
        for host in fleet.hosts { #expect(try fleet.current(host) == "r1") }

        // A long job on h2 holds r1: started over SSH, detached from the session.
        let started = try fleet.ssh("h2", "setsid trees exec app -- sleep 3600 </dev/null >/dev/null 2>&1 & echo $!")
        #expect(started.status == 0, "\(started.stderr)")
        var jobs: [Int] = []
        #expect(try eventually(10) { jobs = try fleet.pids("h2", "app@r1"); return !jobs.isEmpty }, "the job on h2 holds r1")
        // Each host's trees sees only its own processes.
        #expect(try fleet.pids("h1", "app@r1").isEmpty && fleet.pids("h3", "app@r1").isEmpty)

        // r2 everywhere, without draining: every host is current on r2, and the gate says not complete.
        let r2 = try fleet.rollout("r2", ["trees_drain": "false"])
        #expect(r2.status != 0, "the gate must fail while the job runs from r1")
        let before = Self.gate(r2.stdout)
        print(Self.recap(r2.stdout))
        print("gate before the drain:\n\(before.shown)")
        #expect(before.summary?.contains("rollout of app not complete") == true, "\(r2.stdout.suffix(3000))")
        #expect(before.summary?.contains("h2: 1 jobs on r1") == true, "\(before.shown)")
        #expect(r2.stdout.contains("\"pid\": \(jobs.first ?? -1)"), "the gate names the job on h2")
        for host in fleet.hosts { #expect(try fleet.current(host) == "r2") }
        #expect(try fleet.pids("h2", "app@r1") == jobs, "the job still runs from r1")

        // The rollout again, draining: r1's jobs are told by r1's protocol (TERM) and the gate passes.
        let drained = try fleet.rollout("r2")
        #expect(drained.status == 0, "\(drained.stdout.suffix(3000))\n\(drained.stderr.suffix(2000))")
        let after = Self.gate(drained.stdout)
        print(Self.recap(drained.stdout))
        print("gate after the drain:\n\(after.shown)")
        #expect(drained.stdout.contains("changed: [h2] => (item=r1)"), "the drain of r1 ran on h2 only")
        #expect(after.summary?.contains("rollout of app complete: all 3 hosts current on r2") == true, "\(drained.stdout.suffix(3000))")
        #expect(try fleet.pids("h2", "app@r1").isEmpty)
        let log = try fleet.ssh("h2", "trees log app --json")
        #expect(log.stdout.contains("\(jobs.first ?? -1)") && log.stdout.contains("TERM"),
                "h2's log records the TERM the drain sent the job: \(log.stdout.suffix(2000))")

        // r3, whose check fails on h2: the first batch (h1, h2) goes back to r2, and h3 never gets it.
        try "".write(toFile: fleet.work + "/h2/srv/FAIL", atomically: true, encoding: .utf8)
        let r3 = try fleet.rollout("r3", ["trees_serial": "2"])
        print(Self.recap(r3.stdout))
        #expect(r3.status != 0)
        #expect(r3.stdout.contains("app@r3 failed on h2; this batch is back on r2"), "\(r3.stdout.suffix(4000))")
        #expect(!r3.stdout.contains("PLAY [Is the rollout complete"), "the rollout stops before the gate")
        for host in fleet.hosts { #expect(try fleet.current(host) == "r2", "\(host)") }
        #expect(try fleet.trees("h2")["r3"]?["verdict"] as? String == "bad", "trees marked r3 bad where its check failed")
        #expect(try fleet.trees("h1")["r3"]?["verdict"] as? String == "bad", "the rest of the batch marks it bad too")
        #expect(try fleet.trees("h3")["r3"]?["verdict"] as? String == "unverified", "h3 (the second batch) never activated r3")
        #expect(try fleet.trees("h3")["r3"]?["state"] as? String == "ready", "but r3 was installed everywhere first")
        print("== the three-host test took \(String(format: "%.1f", Date().timeIntervalSince(began))) s")
    }
}
