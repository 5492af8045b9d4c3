import Foundation
import Testing

@Suite("trees log")
struct LogTests {
    @Test("installs, activations, rollbacks, pins and gc deletions with their reasons, oldest first")
    func historyOfEveryStateChange() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2", "r3"])
        #expect(try s.trees(["activate", "app@r2"]).status == 0)
        #expect(try s.trees(["rollback", "app"]).status == 0)
        #expect(try s.trees(["pin", "app@r2"]).status == 0)
        #expect(try s.trees(["gc", "--keep", "0", "--min-age", "0"], environment: hostEnvironment).status == 0)
        let r = try s.trees(["log", "app", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try #require(try json(r.stdout) as? [[String: Any]])
        let events = rows.map { "\($0["event"] as? String ?? "")@\($0["rev"] as? String ?? "")" }
        // Rollback marks the release it leaves bad with its intent, before the move.
        #expect(events == ["installed@r1", "installed@r2", "installed@r3", "activated@r3", "activated@r2", "marked-bad@r2",
                           "activated@r3", "rolled-back@r3", "pinned@r2", "deleted@r1"], "\(events)")
        #expect(rows.first { $0["event"] as? String == "rolled-back" }?["previous"] as? String == "r2")
        #expect(rows.last?["detail"] as? String == "unused")
        let table = try s.trees(["log"]).stdout
        #expect(table.hasPrefix("WHEN") && table.contains("app@r3  rolled-back  from r2"))
    }

    @Test("--since keeps recent entries; a bad DURATION is a usage error")
    func since() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        let recent = try #require(try json(s.trees(["log", "--since", "1h", "--json"]).stdout) as? [[String: Any]])
        #expect(recent.count == 2)
        #expect(try s.trees(["log", "--since", "soon"]).status == 64)
        #expect(try s.trees(["log", "Bad Name"]).status == 65)
    }
}
