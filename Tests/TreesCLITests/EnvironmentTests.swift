import Foundation
import Testing

/// The command line is the one reader of the environment; a value it cannot
/// use is a usage error, never a silent default.
@Suite("environment at the edge")
struct EnvironmentTests {
    @Test(arguments: [("TREES_LOCK_TIMEOUT", "soon"), ("TREES_LOCK_TIMEOUT", "-1"),
                      ("TREES_IGNORE_UNKNOWN_PIDS", "1,x"), ("TREES_IGNORE_UNKNOWN_PIDS", "0")])
    func aBadValueIsAUsageError(key: String, value: String) throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        let r = try s.trees(["list"], environment: [key: value])
        #expect(r.status == 64, "\(r.stderr)")
        #expect(r.stderr.contains(key))
    }

    @Test func theLockTimeoutComesFromTheEnvironment() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        // Hold the write lock from outside; a 1 s timeout must end the wait.
        // One process holds it (the shell execs sleep with the locked fd), so
        // stopping it by its pid releases the lock and leaves nothing behind.
        let holder = try Background("/bin/sh", ["-c", "exec 9>>\(s.root)/.trees/write.lock; /usr/bin/flock 9; exec /bin/sleep 30"])
        defer { holder.stop() }
        #expect(eventually { (try? run("/usr/bin/flock", ["-n", s.root + "/.trees/write.lock", "/bin/true"]))?.status == 1 })
        let started = Date()
        let r = try s.trees(["activate", "app@r1"], environment: ["TREES_LOCK_TIMEOUT": "1"])
        #expect(r.status == 75, "\(r.stderr)")
        #expect(Date().timeIntervalSince(started) < 10)
    }
}
