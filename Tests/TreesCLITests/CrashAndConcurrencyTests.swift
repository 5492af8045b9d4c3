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

@Suite("locked database and unprivileged callers")
struct LockedAndUnprivilegedTests {
    @Test(.enabled(if: Facility.hasPython3, "needs python3"))
    func aLockedDatabaseGives75AndChangesNothing() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        let before = try s.trees(["list", "--json"]).stdout
        // Another process holds an exclusive SQLite lock for a while.
        let holder = try Background("/usr/bin/python3", ["-c", """
            import sqlite3, time
            c = sqlite3.connect('\(s.root)/.trees/state.db', isolation_level=None)
            c.execute('BEGIN EXCLUSIVE')
            open('\(s.path)/locked', 'w').close()
            time.sleep(30)
            """])
        #expect(eventually { FileManager.default.fileExists(atPath: s.path + "/locked") })
        let r = try s.trees(["activate", "app@r1"], environment: ["TREES_LOCK_TIMEOUT": "1"])
        #expect(r.status == 75, "\(r.stderr)")
        #expect(r.stderr.contains("busy"))
        holder.stop()
        #expect(try s.trees(["list", "--json"]).stdout == before)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: s.root + "/app/current") == "r2")
    }

    @Test(.enabled(if: Facility.canDropPrivileges, "needs root and setpriv"), .uninspectableProcesses)
    func callerWithoutDatabaseAccessRunsUntrackedOrFailsWithRequireLease() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        chmod(s.path, 0o755)
        let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", treesBinaryForAnyUser]
        let r = try run(nobody[0], Array(nobody.dropFirst()) + ["exec", "--root", s.root, "app", "--", "/bin/sh", "-c", "echo $TREES_TREE; pwd"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "app@r1\n\(s.root)/app/r1\n")
        #expect(r.stderr.contains("warning") && r.stderr.contains("without a lease"))
        let strict = try run(nobody[0], Array(nobody.dropFirst()) + ["exec", "--root", s.root, "--require-lease", "app", "--", "/bin/true"])
        #expect(strict.status == 1, "\(strict.stderr)")
        #expect(strict.stderr.contains("cannot take a lease"))
        // The database is the operator's alone (issue 14): no list, but ps
        // still tells what /proc shows.
        let list = try run(nobody[0], Array(nobody.dropFirst()) + ["list", "--root", s.root, "--json"])
        #expect(list.status == 1 && list.stderr.contains("Only the operator"), "\(list.stderr)")
        let ps = try run(nobody[0], Array(nobody.dropFirst()) + ["ps", "--root", s.root])
        #expect(ps.status == 0, "\(ps.stderr)")
    }
}

@Suite("full disk and vanished processes")
struct FullDiskTests {
    @Test(.enabled(if: Facility.canMountTmpfs, "needs root and tmpfs"))
    func aFullDiskGives75AndLeavesNothingBehind() throws {
        let s = try Scratch()
        try FileManager.default.createDirectory(atPath: s.root, withIntermediateDirectories: true)
        try #require(try run("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "trees-test-full", s.root]).status == 0)
        defer { unmountAll(under: s.path) }
        try installRevs(s, ["r1"])
        let before = try s.trees(["list", "--json"]).stdout
        // Four MiB of content cannot fit in what is left of two.
        let chunk = String(repeating: "x", count: 1 << 20)
        for i in 0..<4 { try s.write("big/f\(i)", chunk) }
        let r = try s.trees(["install", "app@big", s.path + "/big"])
        #expect(r.status == 75, "\(r.stderr)")
        #expect(r.stderr.contains("No space left") && r.stderr.contains("Free space"))
        #expect(!s.exists("root/app/big"))
        #expect(listing(s.root + "/.trees/staging").isEmpty)
        #expect(try s.trees(["list", "--json"]).stdout == before)
        #expect(try s.trees(["verify", "app@r1"]).status == 0)
    }
}
