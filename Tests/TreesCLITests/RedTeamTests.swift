import Foundation
import Testing

/// The one promise (a tree is deleted only after its last job has exited)
/// tried again after the lease-lock rebuild, as an attacker reading the code
/// and as a messy host would. Each test once made gc delete a tree in use.
@Suite("red team", .serialized)
struct RedTeamTests {
    /// The state letter of `/proc/PID/stat` (after the last `)`).
    func procState(_ pid: Int32) -> Character? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].dropFirst().first
    }

    /// A process whose main thread has exited while another thread runs on:
    /// the kernel shows its leader as a zombie ("Z") for as long as the
    /// thread group lives. A supervisor's lease on it (`lease acquire --pid`)
    /// was judged `exited`, pruned, and gc deleted the tree under the
    /// running thread (nothing else ties this job to its tree).
    @Test(.enabled(if: Facility.hasPython3, "needs python3"))
    func leaseOfAProcessWhoseMainThreadExitedKeepsTheTree() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        let job = try Background("/usr/bin/python3", ["-c", """
            import ctypes, threading, time
            threading.Thread(target=lambda: time.sleep(30)).start()
            time.sleep(1.0)
            ctypes.CDLL(None).pthread_exit(None)
            """], cwd: "/")
        #expect(try s.trees(["lease", "acquire", "app@r1", "--pid", String(job.pid)]).status == 0)
        #expect(eventually { procState(job.pid) == "Z" })
        #expect(FileManager.default.fileExists(atPath: "/proc/\(job.pid)/task"))

        let list = try json(try s.trees(["lease", "list", "--json"]).stdout) as? [[String: Any]] ?? []
        #expect(list.first?["liveness"] as? String == "live", "\(list)")
        let gc = try s.trees(["gc", "--min-age", "0", "--keep", "0", "--json"])
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(try gcRevs(gc, "kept").contains("r1"), "\(gc.stdout)")
        #expect(revsOnDisk(s).contains("r1"))

        // Once the whole thread group is gone, the lease is dead and r1 goes.
        job.stop()
        let after = try s.trees(["gc", "--min-age", "0", "--keep", "0", "--json"])
        #expect(try gcRevs(after, "deleted") == ["r1"], "\(after.stdout) \(after.stderr)")
    }
}
