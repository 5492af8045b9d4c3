import Foundation
import Testing

@Suite("trees wait")
struct WaitTests {
    @Test func waitReturnsSoonAfterTheLastJobExits() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        // The job runs until the test tells it to stop, so a slow host cannot
        // let it finish before ps or wait have seen it.
        let stop = s.path + "/stop"
        let job = try Background(treesBinary, ["exec", "--root", s.root, "app", "--", "/bin/sh", "-c",
                                               "while [ ! -e \(stop) ]; do sleep 0.05; done"])
        #expect(try eventually { try psEvidence(s)["\(job.pid) app@r1"] != nil })
        let waiter = try Background(treesBinary, ["wait", "--root", s.root, "app@r1", "--timeout", "60"])
        usleep(500_000)
        #expect(waiter.process.isRunning, "wait returned while the job still ran")
        let released = Date()
        FileManager.default.createFile(atPath: stop, contents: nil)
        waiter.process.waitUntilExit()
        let waited = Date().timeIntervalSince(released)
        #expect(waiter.process.terminationStatus == 0)
        // Polling the job's pidfd wakes wait at once; what remains is one
        // rescan of /proc. 5 s leaves room for a loaded host while still far
        // below the 60 s timeout it would otherwise run into.
        #expect(waited < 5, "wait took \(waited)s after the job was told to stop")
        #expect(try s.trees(["wait", "app@r1", "--timeout", "5x"]).status == 64)
    }
}
