import Foundation
import Testing

let haveAnsible = ["/usr/bin/ansible-test", "/usr/bin/ansible-galaxy", "/usr/bin/ansible-playbook"]
    .allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }

/// The Ansible collection `trees.trees` (contrib/ansible): its own tests, and
/// its rollout playbook driving this build of trees on three local "hosts",
/// one root each (the hosts over SSH are another test's).
@Suite("contrib/ansible")
struct AnsibleTests {
    let repository = fixtures.deletingLastPathComponent().path

    @Test("run-tests: the modules' unit tests against a fake trees, ansible-test sanity, the playbooks' syntax, the collection build",
          .enabled(if: haveAnsible, "needs ansible-core (contrib/bootstrap installs it)"),
          .timeLimit(.minutes(10)))
    func collectionTestsPass() throws {
        let r = try run("/bin/bash", [repository + "/contrib/ansible/run-tests"], cwd: repository)
        #expect(r.status == 0, "\(r.stdout.suffix(4000))\n\(r.stderr.suffix(4000))")
        #expect(r.stdout.range(of: #"\d+ passed"#, options: .regularExpression) != nil, "\(r.stdout.suffix(2000))")
        #expect(!(r.stdout + r.stderr).contains("Skipping sanity test"), "no sanity test may be skipped: \(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("trees-trees-0.1.0.tar.gz"))
        #expect(r.stdout.hasSuffix("run-tests: ok\n"))
    }

    /// Three inventory hosts on this machine (connection local), each with a
    /// root of its own, so the playbooks run against the real trees.
    struct Fleet {
        let scratch: Scratch
        let collections: String
        let inventory: String
        let hosts = ["h1", "h2", "h3"]

        init() throws {
            scratch = try Scratch()
            collections = scratch.path + "/collections"
            let namespace = collections + "/ansible_collections/trees"
            try FileManager.default.createDirectory(atPath: namespace, withIntermediateDirectories: true)
            let source = fixtures.deletingLastPathComponent().path + "/contrib/ansible"
            try FileManager.default.createSymbolicLink(atPath: namespace + "/trees", withDestinationPath: source)
            inventory = scratch.path + "/inventory.yml"
            var text = "trees:\n  hosts:\n"
            for host in hosts { text += "    \(host): {trees_root: \(scratch.path)/\(host)}\n" }
            text += """
                  vars:
                    ansible_connection: local
                    ansible_python_interpreter: /usr/bin/python3
                    trees_binary: \(treesBinary)
                    trees_name: app
                    trees_check: bin/check

                """
            try text.write(toFile: inventory, atomically: true, encoding: .utf8)
            // A release whose check fails on a root holding a file FAIL.
            for rev in ["r1", "r2", "r3"] {
                let bin = scratch.path + "/src/\(rev)/bin"
                try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
                try "#!/bin/sh\nif [ -e \"$TREES_ROOT/FAIL\" ]; then echo failing; exit 3; fi\nexit 0\n"
                    .write(toFile: bin + "/check", atomically: true, encoding: .utf8)
                try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bin + "/check")
                try rev.write(toFile: scratch.path + "/src/\(rev)/VERSION", atomically: true, encoding: .utf8)
            }
        }

        func root(_ host: String) -> String { scratch.path + "/" + host }

        func current(_ host: String) -> String? {
            try? FileManager.default.destinationOfSymbolicLink(atPath: root(host) + "/app/current")
        }

        func playbook(_ name: String, _ vars: [String: String]) throws -> RunResult {
            let playbooks = fixtures.deletingLastPathComponent().path + "/contrib/ansible/playbooks/"
            return try run("/usr/bin/ansible-playbook",
                           ["-i", inventory, playbooks + name] + vars.sorted { $0.key < $1.key }.flatMap { ["-e", $0.key == "@" ? "@" + $0.value : "\($0.key)=\($0.value)"] },
                           environment: ["ANSIBLE_COLLECTIONS_PATH": collections, "ANSIBLE_NOCOLOR": "1",
                                         "ANSIBLE_LOCAL_TEMP": scratch.path + "/tmp", "ANSIBLE_REMOTE_TEMP": scratch.path + "/tmp",
                                         "ANSIBLE_HOME": scratch.path + "/ansible"])
        }

        /// A playbook with its variables from a JSON file (lists cannot be `-e key=value`).
        func playbook(_ name: String, json: String) throws -> RunResult {
            let file = scratch.path + "/vars-\(UUID().uuidString).json"
            try json.write(toFile: file, atomically: true, encoding: .utf8)
            return try playbook(name, ["@": file])
        }

        func rollout(_ rev: String, _ extra: [String: String] = [:]) throws -> RunResult {
            try playbook("rollout.yml", ["trees_rev": rev, "trees_src": scratch.path + "/src/" + rev].merging(extra) { _, b in b })
        }
    }

    @Test("rollout.yml: the gate fails while a job holds the old revision on one host and passes once it ends; a failed check rolls its batch back and stops the rollout",
          .enabled(if: haveAnsible, "needs ansible-core (contrib/bootstrap installs it)"),
          .timeLimit(.minutes(10)))
    func rolloutGateAndRollback() throws {
        let fleet = try Fleet()
        let first = try fleet.rollout("r1")
        #expect(first.status == 0, "\(first.stdout.suffix(3000))")
        #expect(first.stdout.contains("rollout of app complete: all 3 hosts current on r1"))
        #expect(fleet.hosts.allSatisfy { fleet.current($0) == "r1" })

        // A long job on h2 keeps r1 there after r2 is current everywhere.
        let job = Process()
        job.executableURL = URL(fileURLWithPath: treesBinary)
        job.arguments = ["--root", fleet.root("h2"), "exec", "app", "--", "/bin/sleep", "600"]
        try job.run()
        // KILL: a child of Foundation's Process starts with most signals blocked, TERM among them.
        defer { if job.isRunning { kill(job.processIdentifier, SIGKILL) } }
        var held = false
        for _ in 0..<100 where !held {
            held = (try? run(treesBinary, ["--root", fleet.root("h2"), "ps", "app@r1", "--json"]))?.stdout.contains("\"pid\"") == true
            if !held { usleep(50_000) }
        }
        #expect(held)
        let second = try fleet.rollout("r2", ["trees_drain": "false"])
        #expect(second.status != 0)
        #expect(second.stdout.contains("rollout of app not complete (r2 on 3): h2: 1 jobs on r1"), "\(second.stdout.suffix(3000))")
        #expect(fleet.hosts.allSatisfy { fleet.current($0) == "r2" })

        kill(job.processIdentifier, SIGKILL)
        job.waitUntilExit()
        let gate = try fleet.playbook("gate.yml", ["trees_rev": "r2"])
        #expect(gate.status == 0, "\(gate.stdout.suffix(3000))")
        #expect(gate.stdout.contains("rollout of app complete: all 3 hosts current on r2, no job on another revision"))

        // r3 fails its check on h2: in the first batch (h1, h2) trees returns h2
        // to r2, h1 goes back too, and h3 is never activated.
        #expect(FileManager.default.createFile(atPath: fleet.root("h2") + "/FAIL", contents: nil))
        let third = try fleet.rollout("r3", ["trees_serial": "2"])
        #expect(third.status != 0)
        #expect(third.stdout.contains("app@r3 failed on h2; this batch is back on r2"), "\(third.stdout.suffix(3000))")
        #expect(third.stdout.contains("current is back at app@r2"))
        #expect(fleet.hosts.allSatisfy { fleet.current($0) == "r2" })
        let h2 = try run(treesBinary, ["--root", fleet.root("h2"), "list", "app", "--json"]).stdout
        #expect(h2.contains("\"verdict\" : \"bad\""), "\(h2)")
        let h3 = try run(treesBinary, ["--root", fleet.root("h3"), "history", "app", "--json"]).stdout
        #expect(h3.contains("\"rev\" : \"r3\""), "installed everywhere first")
        #expect(!third.stdout.contains("PLAY [Is the rollout complete"), "the rollout stopped before its gate")
    }

    /// The seed's three-step protocol change, each step a rollout gated on
    /// the one before being complete on every host.
    @Test(.enabled(if: haveAnsible, "needs ansible-core (contrib/bootstrap installs it)"), .timeLimit(.minutes(10)))
    func protocolChangeRunsThreeGatedSteps() throws {
        let fleet = try Fleet()
        let steps = ["r1", "r2", "r3"].map { #"{"rev": "\#($0)", "src": "\#(fleet.scratch.path)/src/\#($0)"}"# }
        let r = try fleet.playbook("protocol-change.yml", json: #"{"trees_steps": [\#(steps.joined(separator: ", "))]}"#)
        #expect(r.status == 0, "\(r.stdout.suffix(3000))")
        for rev in ["r1", "r2", "r3"] {
            #expect(r.stdout.contains("rollout of app complete: all 3 hosts current on \(rev)"), "\(rev): \(r.stdout.suffix(3000))")
        }
        #expect(fleet.hosts.allSatisfy { fleet.current($0) == "r3" })
    }

}
