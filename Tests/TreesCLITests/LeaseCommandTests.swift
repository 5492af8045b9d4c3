import Foundation
import Testing

@Suite("trees lease")
struct LeaseCommandTests {
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

    @Test func aLeaseForAVanishedProcessIsRefused() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        let gone = try Background("/bin/true", [])
        gone.stop()
        let r = try s.trees(["lease", "acquire", "app", "--pid", String(gone.pid)])
        #expect(r.status == 66, "\(r.stderr)")
        #expect(try s.trees(["lease", "list", "--json"]).stdout.contains("[\n\n]") || (try json(try s.trees(["lease", "list", "--json"]).stdout) as! [Any]).isEmpty)
    }
}
