import Foundation
import Testing

/// The seed thread's rollouts, end to end, run as an operator would type
/// them (issue 16). importd's story (r2 activated under hour-long r1 jobs,
/// a drain that reaches only r1's) is `DrainTests.aDrainReachesOnlyTheOldTreesJobs`;
/// the bad release's is `VerdictTests.aFailingCheckReturnsToTheLastGoodReleaseWhichGCKeeps`.
@Suite("the seed's rollouts", .enabled(if: Facility.hasPython3, "needs python3 (to run jobs with no signal blocked)"))
struct SeedStoriesTests {
    /// A manager that "has a way to orderly exit after a scan": on TERM it
    /// finishes its scan, says so in its log, and exits 0.
    static func manager(_ s: Scratch) throws -> Background {
        try signallableJob([treesBinary, "exec", "--root", s.root, "app", "--", "/bin/sh", "-c", """
            rev=$(basename "$PWD")
            trap 'echo "$rev finished its scan" >> log/manager.log; exit 0' TERM
            echo "$rev started" >> log/manager.log
            while :; do sleep 0.1; done
            """])
    }

    func logLines(_ s: Scratch) -> [String] {
        ((try? String(contentsOfFile: s.root + "/app/shared/log/manager.log", encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
    }

    /// buildd-manager: install new, drain old (orderly exit), start new,
    /// remove old; the manager's log lives in a shared directory that
    /// outlives every tree.
    @Test func builddManagerInstallDrainStartRemove() throws {
        let s = try Scratch()
        try s.write("src-r1/bin/manager", "r1\n")
        try s.write("src-r2/bin/manager", "r2\n")
        #expect(try s.trees(["shared", "app", "add", "log"]).status == 0)
        #expect(try s.trees(["install", "app@r1", s.path + "/src-r1", "--activate"]).status == 0)
        let old = try Self.manager(s)
        defer { old.stop() }
        #expect(eventually { logLines(s) == ["r1 started"] }, "\(logLines(s))")

        // Install new; r1's manager keeps running from r1.
        #expect(try s.trees(["install", "app@r2", s.path + "/src-r2", "--activate"]).status == 0)
        // Drain old: it finishes its scan and exits.
        let drained = try s.trees(["drain", "app@r1", "--signal", "TERM", "--timeout", "30s"])
        #expect(drained.status == 0, "\(drained.stdout)\(drained.stderr)")
        #expect(logLines(s) == ["r1 started", "r1 finished its scan"], "\(logLines(s))")
        // Start new.
        let new = try Self.manager(s)
        defer { new.stop() }
        #expect(eventually { logLines(s).last == "r2 started" }, "\(logLines(s))")
        // Remove old: nothing runs from it, so it goes; the log stays.
        let removed = try s.trees(["remove", "app@r1"])
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(!s.exists("root/app/r1"))
        #expect(logLines(s) == ["r1 started", "r1 finished its scan", "r2 started"])
        #expect(try s.trees(["verify", "app@r2"]).status == 0, "the shared link is part of the tree")
        let history = try json(try s.trees(["history", "app", "--json"]).stdout) as? [[String: Any]] ?? []
        let r1 = history.first { $0["rev"] as? String == "r1" }
        #expect(r1?["drained_at"] as? String != nil && r1?["state"] as? String == "deleted", "\(history)")
    }
}
