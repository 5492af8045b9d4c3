import Foundation
import Testing

@Suite("trees wait")
struct WaitTests {
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
}
