import Foundation
import Testing

@Suite("crash safety and concurrent writers")
struct CrashAndConcurrencyTests {
    @Test func killDuringInstallLeavesNoPartialTreeAndNextInstallSucceeds() throws {
        let s = try Scratch()
        // Enough files that an install takes a noticeable time to copy and seal.
        let payload = String(repeating: "x", count: 4096)
        for d in 0..<20 {
            for f in 0..<100 { try s.write("src/d\(d)/f\(f)", payload + "\(d)/\(f)") }
        }
        let src = s.path + "/src"
        var killedMidway = 0
        for (trial, delay) in [0, 2_000, 10_000, 30_000, 60_000, 120_000, 250_000, 400_000].enumerated() {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: treesBinary)
            p.arguments = ["install", "--root", s.root, "app@r1", src]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            usleep(useconds_t(delay))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            if p.terminationReason == .uncaughtSignal { killedMidway += 1 }
            // Either no tree, or a complete one.
            if s.exists("root/app/r1") {
                let v = try s.trees(["verify", "app@r1"])
                // A tree renamed into place but not yet marked ready is adopted by the next install.
                #expect(v.status == 0 || v.status == 66, "trial \(trial): \(v.stderr)")
            }
            let good = try s.trees(["install", "app@r1", src])
            #expect(good.status == 0, "trial \(trial): \(good.stderr)")
            #expect(try s.trees(["verify", "app@r1"]).status == 0)
            #expect(listing(s.root + "/.trees/staging").isEmpty, "trial \(trial) left staging behind")
            // Start the next trial from scratch.
            _ = try run("/bin/chmod", ["-R", "u+w", s.root])
            try FileManager.default.removeItem(atPath: s.root)
        }
        #expect(killedMidway >= 3, "too few installs were actually interrupted")
    }

    @Test func eightConcurrentWritersNeverSeeLockedDatabase() throws {
        let s = try Scratch()
        try s.write("src/a.txt", "a\n")
        let src = s.path + "/src"
        // The first use of a fresh root is the hardest case: eight processes
        // create and migrate the database at once.
        for round in 0..<3 {
            let processes = (0..<8).map { i -> (Process, Pipe) in
                let p = Process()
                p.executableURL = URL(fileURLWithPath: treesBinary)
                p.arguments = ["install", "--root", s.root, "app@w\(round)x\(i)", src, "--activate"]
                let err = Pipe()
                p.standardError = err
                p.standardOutput = FileHandle.nullDevice
                return (p, err)
            }
            for (p, _) in processes { try p.run() }
            for (p, err) in processes {
                let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                p.waitUntilExit()
                #expect(p.terminationStatus == 0, "round \(round): \(text)")
                #expect(!text.contains("locked"))
            }
        }
        let list = try json(try s.trees(["list", "--json"]).stdout) as! [[String: Any]]
        #expect(list.count == 24)
        #expect(list.filter { $0["current"] as! Bool }.count == 1)
    }
}
