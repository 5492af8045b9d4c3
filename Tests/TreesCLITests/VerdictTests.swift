import Foundation
import Testing

/// Good and bad releases (issue 16): `mark`, `activate --check`, `rollback
/// --to`, gc `--keep-good`, `history`, and the verdict wherever a tree is shown.
@Suite("good and bad releases")
struct VerdictTests {
    func current(_ s: Scratch) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: s.root + "/app/current")
    }

    func verdicts(_ s: Scratch) throws -> [String: String] {
        let rows = try json(try s.trees(["list", "app", "--json"]).stdout) as? [[String: Any]] ?? []
        return Dictionary(uniqueKeysWithValues: rows.map { ($0["rev"] as! String, $0["verdict"] as! String) })
    }

    func history(_ s: Scratch) throws -> [String: [String: Any]] {
        let rows = try json(try s.trees(["history", "app", "--json"]).stdout) as? [[String: Any]] ?? []
        return Dictionary(uniqueKeysWithValues: rows.map { ($0["rev"] as! String, $0) })
    }

    /// Installs r1…rN, activating each in turn (the last stays current).
    func activatedInTurn(_ s: Scratch, _ revs: [String]) throws {
        try installRevs(s, revs, activateLast: false)
        for rev in revs { #expect(try s.trees(["activate", "app@\(rev)"]).status == 0) }
    }

    @Test func markRecordsWhoWhenAndWhyAndChangesWithAReason() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        #expect(try verdicts(s) == ["r1": "unverified", "r2": "unverified"])
        let marked = try s.trees(["mark", "app@r1", "good", "--reason", "a week in production", "--json"])
        #expect(marked.status == 0, "\(marked.stderr)")
        let out = try json(marked.stdout) as? [String: Any]
        #expect(out?["verdict"] as? String == "good" && out?["by"] as? String == "root")
        let r1 = try history(s)["r1"]?["verdict"] as? [String: Any]
        #expect(r1?["verdict"] as? String == "good" && r1?["by"] as? String == "root"
                && r1?["reason"] as? String == "a week in production" && (r1?["at"] as? String)?.hasSuffix("Z") == true)
        // An operator may change their mind; never back to unverified.
        #expect(try s.trees(["mark", "app@r1", "bad", "--reason", "leaks memory"]).status == 0)
        #expect(try verdicts(s)["r1"] == "bad")
        let log = try s.trees(["log", "app"]).stdout
        #expect(log.contains("marked-good") && log.contains("marked-bad") && log.contains("leaks memory"), "\(log)")
        #expect(try s.trees(["metrics"]).stdout.contains(#"trees_tree_verdict{root="\#(s.root)",name="app",rev="r1",verdict="bad"} 1"#))
    }

    static let badValues: [([String], Int32)] = [
        (["mark", "app@r1", "unverified"], 64),
        (["mark", "app@r1", "fine"], 64),
        (["mark", "app@r1"], 64),
        (["mark", "app@r9", "good"], 66),
        (["mark", "app@../x", "good"], 65),
        (["mark", "app@r1", "good", "--reason", String(repeating: "x", count: 5000)], 64),
        (["rollback", "app", "--to", "-0"], 64),
        (["rollback", "app", "--to", "--1"], 64),
        (["rollback", "app", "--to", "last-bad"], 66),
        (["rollback", "app", "--to", "../r1"], 64),
        (["rollback", "app", "--to", "r2"], 64),
        (["rollback", "app", "--to", "r9"], 66),
        (["activate", "app@r2", "--check", ""], 64),
        (["activate", "app@r2", "--check", "true", "--within", "0"], 64),
        (["activate", "app@r2", "--check", "true", "--within", "soon"], 64),
        (["gc", "--keep-good", "-1"], 64),
        (["history", "../app"], 65),
        (["history", "other"], 66),
    ]

    @Test(arguments: badValues)
    func badValuesChangeNothing(_ command: [String], _ status: Int32) throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        let before = try s.trees(["list", "--json"]).stdout
        let historyBefore = try s.trees(["log", "--json"]).stdout
        let r = try s.trees(command)
        #expect(r.status == status, "\(command): \(r.stderr)")
        #expect(r.stderr.contains("trees: error:") || r.stderr.contains("Error:"), "\(r.stderr)")
        #expect(try s.trees(["list", "--json"]).stdout == before)
        #expect(try s.trees(["log", "--json"]).stdout == historyBefore)
        #expect(current(s) == "r2")
    }

    /// The check runs from the new tree, under a lease, as a job would.
    @Test func aPassingCheckMarksTheReleaseGood() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        try installRevs(s, ["r2"], activateLast: false)
        let seen = s.path + "/seen"
        let check = "echo \"$TREES_TREE $PWD $(cat lib/f0.txt)\" > \(seen); \(treesBinary) ps --root \(s.root) --json >> \(seen)"
        let r = try s.trees(["activate", "app@r2", "--check", check, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let out = try json(r.stdout) as? [String: Any]
        #expect(out?["verdict"] as? String == "good" && out?["current"] as? String == "app@r2" && out?["previous"] as? String == "r1")
        #expect((out?["check"] as? [String: Any])?["result"] as? String == "passed")
        let text = try String(contentsOfFile: seen, encoding: .utf8)
        #expect(text.hasPrefix("app@r2 \(s.root)/app/r2 r2 0"), "\(text)")
        #expect(text.contains("\"lease\""), "the check holds a lease: \(text)")
        #expect(try verdicts(s) == ["r1": "unverified", "r2": "good"])
        #expect(current(s) == "r2")
    }

    /// The seed's bad release: the check fails, current returns to the last
    /// good revision (not merely the previous one) in one step, the new one
    /// is marked bad, and gc keeps the good one whatever --keep says.
    @Test func aFailingCheckReturnsToTheLastGoodReleaseWhichGCKeeps() throws {
        let s = try Scratch()
        try activatedInTurn(s, ["r1", "r2"])
        #expect(try s.trees(["mark", "app@r1", "good"]).status == 0)
        try installRevs(s, ["r3"], activateLast: false)
        let r = try s.trees(["activate", "app@r3", "--check", "echo failing >&2; exit 3", "--json"])
        #expect(r.status == 65, "\(r.stderr)")
        #expect(r.stderr.contains("failing") && r.stderr.contains("exited with status 3") && r.stderr.contains("back at app@r1"), "\(r.stderr)")
        let out = try json(r.stdout) as? [String: Any]
        #expect(out?["returned_to"] as? String == "app@r1" && out?["verdict"] as? String == "bad")
        #expect(current(s) == "r1")
        #expect(try verdicts(s) == ["r1": "good", "r2": "unverified", "r3": "bad"])
        // Activating a bad release needs --force.
        #expect(try s.trees(["activate", "app@r3"]).status == 65)
        #expect(current(s) == "r1")
        // gc: r1 is current now; make r2 current and r1 is "last good", kept with --keep 0.
        #expect(try s.trees(["activate", "app@r2"]).status == 0)
        let gc = try json(try s.trees(["gc", "--keep", "0", "--min-age", "0", "--json"]).stdout) as? [[String: Any]] ?? []
        let actions = Dictionary(uniqueKeysWithValues: gc.map { ($0["rev"] as! String, "\($0["action"]!) \($0["reason"]!)") })
        #expect(actions == ["r1": "kept last good", "r2": "kept current", "r3": "deleted unused"], "\(actions)")
        #expect(try s.trees(["rollback", "app", "--to", "last-good", "--no-mark"]).status == 0)
        #expect(current(s) == "r1")
    }

    /// A check still running at the deadline fails, and its whole process
    /// group (a child it started too) ends with it.
    @Test func aCheckPastItsDeadlineFailsAndIsEnded() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        #expect(try s.trees(["mark", "app@r1", "good"]).status == 0)
        try installRevs(s, ["r2"], activateLast: false)
        let pidFile = s.path + "/child.pid"
        let start = Date()
        let r = try s.trees(["activate", "app@r2", "--check", "sleep 300 & echo $! > \(pidFile); wait", "--within", "1s"])
        // Far below the check's 300 s, with room for a loaded host.
        #expect(Date().timeIntervalSince(start) < 120)
        #expect(r.status == 65 && r.stderr.contains("still running after 1s"), "\(r.stderr)")
        #expect(current(s) == "r1")
        let child = Int32((try? String(contentsOfFile: pidFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
        #expect(child > 0)
        #expect(eventually { kill(child, 0) != 0 }, "the check's child survived")
    }

    /// A first release with no good or earlier one to return to stays
    /// current, marked bad, and the message says so.
    @Test func aFailingFirstReleaseIsMarkedBadAndSaysItStayed() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"], activateLast: false)
        let r = try s.trees(["activate", "app@r1", "--check", "false"])
        #expect(r.status == 65 && r.stderr.contains("was not moved back"), "\(r.stderr)")
        #expect(current(s) == "r1")
        #expect(try verdicts(s) == ["r1": "bad"])
        let status = try s.trees(["status", "app"]).stdout
        #expect(status.contains("current r1 (bad)"), "\(status)")
    }

    @Test func rollbackSkipsBadReleasesAndMarksTheOneItLeaves() throws {
        let s = try Scratch()
        try activatedInTurn(s, ["r1", "r2", "r3", "r4"])
        #expect(try s.trees(["mark", "app@r3", "bad", "--reason", "broke checkout"]).status == 0)
        // From r4, the one before is r3, bad: rollback goes to r2.
        let r = try s.trees(["rollback", "app", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let out = try json(r.stdout) as? [String: Any]
        #expect(out?["from"] as? String == "r4" && out?["to"] as? String == "r2" && out?["marked_bad"] as? Bool == true)
        #expect(try verdicts(s) == ["r1": "unverified", "r2": "unverified", "r3": "bad", "r4": "bad"])
        // -1 from r2 is r1 (r4 and r3 are bad); --no-mark leaves r2 as it was.
        #expect(try s.trees(["rollback", "app", "--to", "-1", "--no-mark"]).status == 0)
        #expect(current(s) == "r1")
        #expect(try verdicts(s)["r2"] == "unverified")
        // -2 from r1 would be past r2: there is one only.
        #expect(try s.trees(["rollback", "app", "--to", "-2"]).status == 66)
        // A bad one by name needs --force.
        #expect(try s.trees(["rollback", "app", "--to", "r3"]).status == 65)
        #expect(current(s) == "r1")
        #expect(try s.trees(["rollback", "app", "--to", "r3", "--force", "--no-mark"]).status == 0)
        #expect(current(s) == "r3")
        // No good release at all: last-good says so.
        #expect(try s.trees(["rollback", "app", "--to", "last-good"]).status == 66)
        #expect(current(s) == "r3")
    }

    /// Bad releases take no --keep place; --keep-good 0 lets the good one go.
    @Test func gcCountsNoBadReleaseAgainstKeep() throws {
        let s = try Scratch()
        try activatedInTurn(s, ["r1", "r2", "r3", "r4"])
        #expect(try s.trees(["mark", "app@r1", "good"]).status == 0)
        #expect(try s.trees(["mark", "app@r3", "bad"]).status == 0)
        let dry = try json(try s.trees(["gc", "--keep", "1", "--keep-good", "0", "--min-age", "0", "--dry-run", "--json"]).stdout) as? [[String: Any]] ?? []
        let actions = Dictionary(uniqueKeysWithValues: dry.map { ($0["rev"] as! String, $0["action"] as! String) })
        #expect(actions == ["r1": "would-delete", "r2": "kept", "r3": "would-delete", "r4": "kept"], "\(actions)")
    }

    @Test func historyShowsEachReleasesLife() throws {
        let s = try Scratch()
        try activatedInTurn(s, ["r1", "r2"])
        #expect(try s.trees(["activate", "app@r1"]).status == 0)
        #expect(try s.trees(["mark", "app@r2", "bad", "--reason", "slow"]).status == 0)
        #expect(try s.trees(["gc", "--keep", "0", "--min-age", "0"]).status == 0)
        let rows = try history(s)
        #expect((rows["r1"]?["activated_at"] as? [String])?.count == 2)
        #expect(rows["r1"]?["current"] as? Bool == true)
        #expect(rows["r2"]?["state"] as? String == "deleted" && rows["r2"]?["delete_reason"] as? String == "unused")
        let events = (rows["r2"]?["events"] as? [[String: Any]] ?? []).map { $0["event"] as! String }
        #expect(events == ["installed", "activated", "marked-bad", "deleted"], "\(events)")
        let table = try s.trees(["history", "app"]).stdout
        #expect(table.contains("REV") && table.contains("r1 *") && table.contains("bad by root (slow)"), "\(table)")
    }
}
