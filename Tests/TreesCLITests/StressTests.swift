import Foundation
import Testing

/// A counter shared by the stress test's threads.
final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    private var notes: [String] = []
    func add(_ key: String, _ note: String? = nil) {
        lock.withLock {
            counts[key, default: 0] += 1
            if let note, notes.count < 20 { notes.append(note) }
        }
    }
    subscript(_ key: String) -> Int { lock.withLock { counts[key] ?? 0 } }
    var allNotes: [String] { lock.withLock { notes } }
}

/// Starts `trees` with arguments and waits; output discarded.
func treesStatus(_ arguments: [String]) -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: treesBinary)
    p.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env.merge(hostEnvironment) { a, _ in a }
    p.environment = env
    p.standardInput = FileHandle.nullDevice
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return -1 }
    p.waitUntilExit()
    return p.terminationStatus
}

@Suite("gc under load")
struct StressTests {
    /// Jobs start continuously from `current` and read every file of their
    /// tree twice, while `activate` moves on and `gc --min-age 0` runs in a
    /// tight loop. No job may ever miss a file, and afterwards only current
    /// and the kept trees remain.
    @Test func jobsNeverLoseTheirTreeWhileGCRunsInATightLoop() throws {
        let s = try Scratch()
        // 15 s in CI; TREES_SOAK=1 (read by the tests only) runs it for 5 minutes.
        let seconds: Double = ProcessInfo.processInfo.environment["TREES_SOAK"] == "1" ? 300 : 15
        // Sources for a rollout every second; r0 is installed and current at the start.
        let revs = (0..<Int(seconds * 2)).map { "r\($0)" }
        for rev in revs {
            for f in 0..<20 { try s.write("src-\(rev)/lib/f\(f).txt", "\(rev) \(f)\n") }
        }
        #expect(try s.trees(["install", "app@r0", s.path + "/src-r0", "--activate"]).status == 0)
        let base = s.path
        let root = s.root
        let tally = Tally()
        let deadline = Date().addingTimeInterval(seconds)
        let job = "n=0; for f in $(find . -type f); do cat \"$f\" > /dev/null || exit 9; n=$((n+1)); done; "
            + "[ $n -ge 20 ] || exit 8; sleep 0.3; for f in $(find . -type f); do cat \"$f\" > /dev/null || exit 9; done"
        let group = DispatchGroup()
        // Job starters.
        for _ in 0..<4 {
            group.enter()
            Thread.detachNewThread {
                while Date() < deadline {
                    let status = treesStatus(["exec", "--root", root, "app", "--", "/bin/sh", "-c", job])
                    switch status {
                    case 0: tally.add("jobs")
                    case 75: tally.add("refused")
                    default: tally.add("failures", "job exited \(status)")
                    }
                }
                group.leave()
            }
        }
        // Rollouts: install the next revision and make it current, as rollout tooling does.
        group.enter()
        Thread.detachNewThread {
            var i = 1
            while Date() < deadline && i < revs.count {
                Thread.sleep(forTimeInterval: 0.7)
                let status = treesStatus(["install", "--root", root, "app@\(revs[i])", base + "/src-\(revs[i])", "--activate"])
                if status == 0 { tally.add("activations") } else { tally.add("failures", "rollout exited \(status)") }
                i += 1
            }
            group.leave()
        }
        // GC in a tight loop.
        group.enter()
        Thread.detachNewThread {
            while Date() < deadline {
                let status = treesStatus(["gc", "--root", root, "--min-age", "0", "--keep", "2", "--wait-lock"])
                if status == 0 { tally.add("gcs") } else { tally.add("gcFailures", "gc exited \(status)") }
            }
            group.leave()
        }
        group.wait()
        #expect(treesStatus(["gc", "--root", root, "--min-age", "0", "--keep", "2"]) == 0)
        let rows = try json(try s.trees(["list", "--all", "--json"]).stdout) as! [[String: Any]]
        let deleted = rows.filter { $0["state"] as? String == "deleted" }.count
        let live = rows.filter { $0["state"] as? String == "ready" }
        print("stress: jobs \(tally["jobs"]), refused \(tally["refused"]), failures \(tally["failures"]), "
              + "gc runs \(tally["gcs"]), activations \(tally["activations"]), trees deleted \(deleted), left \(live.count)")
        #expect(tally["failures"] == 0, "\(tally.allNotes)")
        #expect(tally["gcFailures"] == 0, "\(tally.allNotes)")
        #expect(tally["jobs"] >= 20)
        #expect(tally["gcs"] >= 10)
        #expect(tally["activations"] >= 5)
        #expect(deleted >= tally["activations"] - 3)
        // Current plus the two most recently installed others, nothing else.
        #expect(live.count == 3)
        #expect(live.contains { $0["current"] as? Bool == true })
        #expect(revsOnDisk(s) == Set(live.map { $0["rev"] as! String }))
    }
}
