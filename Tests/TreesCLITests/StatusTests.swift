import Foundation
import Testing

@Suite("trees status and global options")
struct StatusTests {
    @Test("status: not converged while a job runs from the old rev, with that job as the oldest; converged after")
    func convergence() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        let job = try Background(treesBinary, ["--root", s.root, "exec", "app", "--", "sleep", "60"])
        defer { job.stop() }
        #expect(eventually { (try? psEvidence(s))?.keys.contains("\(job.pid) app@r1") == true })
        try installRevs(s, ["r2"])
        let r = try s.trees(["status", "app", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try #require(try json(r.stdout) as? [[String: Any]])
        #expect(rows.count == 1)
        #expect(rows[0]["current"] as? String == "r2")
        #expect(rows[0]["converged"] as? Bool == false)
        let others = rows[0]["others"] as? [[String: Any]] ?? []
        #expect(others.count == 1 && others[0]["rev"] as? String == "r1" && others[0]["jobs"] as? Int == 1)
        let oldest = rows[0]["oldest_old_job"] as? [String: Any]
        #expect(oldest?["pid"] as? Int == Int(job.pid) && oldest?["rev"] as? String == "r1")
        #expect(try s.trees(["status"]).stdout.contains("app: current r2 (0 jobs), not converged"))

        job.stop()
        let after = try #require(try json(s.trees(["status", "--json"]).stdout) as? [[String: Any]])
        #expect(after.first?["converged"] as? Bool == true)
        #expect(after.first?["oldest_old_job"] == nil)
        #expect(try s.trees(["status", "nosuch"]).status == 66)
    }

    @Test("global options work before the subcommand as after it", arguments: [
        ["list"], ["status"], ["log"], ["metrics"], ["lease", "list"], ["gc", "--dry-run"],
    ])
    func globalOptionsBeforeTheSubcommand(_ command: [String]) throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        let before = try run(treesBinary, ["--root", s.root] + command)
        let after = try s.trees(command)
        #expect(before.status == 0, "\(before.stderr)")
        #expect(before.status == after.status)
        // The listing is the same either way (log and metrics carry times; compare their shape).
        #expect(before.stdout.split(separator: "\n").count == after.stdout.split(separator: "\n").count)
        #expect(before.stdout.contains("app") || command == ["lease", "list"])
        // And the root at the default location was not used instead.
        #expect(!before.stderr.contains("/srv/trees"))
    }

    @Test("--help lists the global options on the root command")
    func helpShowsGlobalOptions() throws {
        let help = try run(treesBinary, ["--help"]).stdout
        for option in ["--root", "--metrics-textfile", "--quiet"] { #expect(help.contains(option)) }
    }
}
