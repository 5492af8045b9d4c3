import Foundation
import Testing

/// Every row of `list --all --json` as (rev → state).
func states(_ s: Scratch) throws -> [String: String] {
    let rows = try json(try s.trees(["list", "--all", "--json"]).stdout) as! [[String: Any]]
    return Dictionary(uniqueKeysWithValues: rows.map { ($0["rev"] as! String, $0["state"] as! String) })
}

/// The revs that exist as directories under ROOT/app.
func revsOnDisk(_ s: Scratch) -> Set<String> {
    Set(((try? FileManager.default.contentsOfDirectory(atPath: s.root + "/app")) ?? []).filter { $0 != "current" && !$0.hasPrefix(".") })
}

@Suite("garbage collection")
struct GCTests {
    @Test func policyKeepsCurrentPinnedRecentAndYoungTrees() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2", "r3", "r4", "r5", "r6"])
        #expect(try s.trees(["pin", "app@r1"]).status == 0)
        #expect(try s.trees(["pin", "app@r9"]).status == 66)
        let young = try json(try s.trees(["gc", "--json"]).stdout) as! [[String: Any]]
        let reasons = Dictionary(uniqueKeysWithValues: young.map { ($0["rev"] as! String, $0["reason"] as! String) })
        #expect(reasons["r6"] == "current")
        #expect(reasons["r1"] == "pinned")
        #expect(reasons["r5"] == "kept for rollback" && reasons["r4"] == "kept for rollback")
        #expect(reasons["r3"] == "too young" && reasons["r2"] == "too young")

        let r = try s.trees(["gc", "--min-age", "0", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let outcome = try json(r.stdout) as! [[String: Any]]
        #expect(Set(outcome.filter { $0["action"] as? String == "deleted" }.map { $0["rev"] as! String }) == ["r2", "r3"], "\(r.stdout)")
        #expect(revsOnDisk(s) == ["r1", "r4", "r5", "r6"], "\(r.stdout)")
        let all = try states(s)
        #expect(all["r2"] == "deleted" && all["r3"] == "deleted" && all["r4"] == "ready")
        // History: deleted trees are listed with when and why.
        let rows = try json(try s.trees(["list", "--all", "--json"]).stdout) as! [[String: Any]]
        let r2 = rows.first { $0["rev"] as? String == "r2" }!
        #expect(r2["delete_reason"] as? String == "unused" && r2["deleted_at"] is String && (r2["bytes_freed"] as? Int ?? 0) > 0)
        #expect((try json(try s.trees(["list", "--json"]).stdout) as! [[String: Any]]).count == 4)

        #expect(try s.trees(["unpin", "app@r1"]).status == 0)
        let last = try s.trees(["gc", "--min-age", "0", "--keep", "0"])
        #expect(revsOnDisk(s) == ["r6"], "gc said: \(last.stdout)\(last.stderr)")
    }

    @Test func treesInUseAreKeptWithTheirPids() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2", "r3", "r4"])
        let leased = try Background(treesBinary, ["exec", "--root", s.root, "app@r1", "--", "/bin/sleep", "30"])
        let unleased = try Background("/bin/sh", ["-c", "exec /bin/sleep 30"], cwd: s.root + "/app/r2")
        #expect(try eventually { try psEvidence(s)["\(leased.pid) app@r1"] != nil && psEvidence(s)["\(unleased.pid) app@r2"] != nil })
        let out = try json(try s.trees(["gc", "--min-age", "0", "--keep", "0", "--json"]).stdout) as! [[String: Any]]
        let byRev = Dictionary(uniqueKeysWithValues: out.map { ($0["rev"] as! String, $0) })
        #expect(byRev["r1"]?["action"] as? String == "kept")
        #expect((byRev["r1"]?["reason"] as? String ?? "").contains("\(leased.pid)"))
        #expect(byRev["r2"]?["action"] as? String == "kept")
        #expect((byRev["r2"]?["reason"] as? String ?? "").contains("cwd"))
        #expect(byRev["r3"]?["action"] as? String == "deleted", "\(out)")
        #expect(try states(s)["r1"] == "ready" && states(s)["r2"] == "ready")
        // remove refuses a tree in use (75), and current (75); --wait drains first.
        #expect(try s.trees(["remove", "app@r2"]).status == 75)
        #expect(try s.trees(["remove", "app@r4"]).status == 75)
        #expect(try s.trees(["remove", "app@r9"]).status == 66)
        unleased.stop()
        let removed = try s.trees(["remove", "app@r2", "--wait", "--timeout", "10"])
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(try s.trees(["remove", "app@r1", "--wait", "--timeout", "1"]).status == 75)
        leased.stop()
        #expect(try s.trees(["remove", "app@r1"]).status == 0)
        #expect(revsOnDisk(s) == ["r4"])
    }

    @Test func dryRunChangesNothing() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2", "r3", "r4", "r5"])
        let before = (try s.trees(["list", "--all", "--json"]).stdout, listing(s.root).filter { !$0.hasPrefix(".trees/state.db") })
        let r = try s.trees(["gc", "--dry-run", "--min-age", "0", "--keep", "0", "--json"])
        let out = try json(r.stdout) as! [[String: Any]]
        #expect(out.filter { $0["action"] as? String == "would-delete" }.count == 4, "\(r.stdout)")
        let after = (try s.trees(["list", "--all", "--json"]).stdout, listing(s.root).filter { !$0.hasPrefix(".trees/state.db") })
        #expect(before == after)
    }

    @Test func symlinksOutOfATreeAreNotFollowedWhenDeleting() throws {
        let s = try Scratch()
        try s.write("sentinel/precious.txt", "keep me\n")
        try s.write("src/a.txt", "a\n")
        try FileManager.default.createSymbolicLink(atPath: s.path + "/src/to-sentinel", withDestinationPath: s.path + "/sentinel")
        try FileManager.default.createSymbolicLink(atPath: s.path + "/src/to-root", withDestinationPath: "/")
        #expect(try s.trees(["install", "app@r1", s.path + "/src"]).status == 0)
        try installRevs(s, ["r2"])
        let r = try s.trees(["gc", "--min-age", "0", "--keep", "0", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(revsOnDisk(s) == ["r2"], "\(r.stdout)")
        #expect(try String(contentsOfFile: s.path + "/sentinel/precious.txt", encoding: .utf8) == "keep me\n")
        #expect(FileManager.default.fileExists(atPath: "/etc/hostname") || FileManager.default.fileExists(atPath: "/bin/sh"))
    }

    @Test(.enabled(if: Facility.canMountTmpfs, "needs root and tmpfs"))
    func aMountInsideATreeIsNotCrossed() throws {
        let s = try Scratch()
        try s.write("src/mnt/.keep", "")
        #expect(try s.trees(["install", "app@r1", s.path + "/src"]).status == 0)
        try installRevs(s, ["r2"])
        let mountPoint = s.root + "/app/r1/mnt"
        try #require(try run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "trees-test", mountPoint]).status == 0)
        // The mount moves with the tree into the trash: unmount wherever it ended up.
        defer { unmountAll(under: s.path) }
        try "on tmpfs\n".write(toFile: mountPoint + "/inside.txt", atomically: false, encoding: .utf8)
        let out = try json(try s.trees(["gc", "--min-age", "0", "--keep", "0", "--json"]).stdout) as! [[String: Any]]
        let r1 = out.first { $0["rev"] as? String == "r1" }!
        #expect((r1["reason"] as? String ?? "").contains("mount inside"), "\(r1)")
        #expect(try states(s)["r1"] == "deleting")
        // The tmpfs is intact wherever the tree now sits.
        let found = try run("/usr/bin/find", [s.root + "/.trees/trash", "-name", "inside.txt"]).stdout
            .split(separator: "\n").map(String.init)
        let inside = try #require(found.first, "the tmpfs is gone from the trash")
        #expect(found.count == 1)
        let trashMount = URL(fileURLWithPath: inside).deletingLastPathComponent().path
        #expect(try String(contentsOfFile: inside, encoding: .utf8) == "on tmpfs\n")
        #expect(try run("/bin/umount", [trashMount]).status == 0)
        _ = try s.trees(["gc", "--min-age", "0", "--keep", "0"])
        #expect(try states(s)["r1"] == "deleted")
        #expect(listing(s.root + "/.trees/trash").isEmpty)
    }

    @Test func secondGCExits75UnlessItWaits() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        // Hold the gc lock as another gc would.
        let holder = try Background("/usr/bin/flock", ["-o", s.root + "/.trees/gc.lock", "/bin/sleep", "30"])
        #expect(try eventually { try s.trees(["gc"]).status == 75 })
        holder.stop()
        #expect(try s.trees(["gc", "--wait-lock"]).status == 0)
        #expect(try s.trees(["gc", "--min-age", "never"]).status == 64)
    }

    @Test func killedGCsLeaveStateAndDiskInAgreement() throws {
        let s = try Scratch()
        var revs: [String] = []
        for trial in 0..<10 {
            // Fresh candidates each trial, with enough files to make deletion take a while.
            let batch = (0..<3).map { "t\(trial)x\($0)" }
            revs += batch
            try installRevs(s, batch, files: 300)
            let gc = try Background(treesBinary, ["gc", "--root", s.root, "--min-age", "0", "--keep", "1"])
            usleep(useconds_t.random(in: 0...150_000))
            kill(gc.pid, SIGKILL)
            gc.stop()
            let next = try s.trees(["gc", "--min-age", "0", "--keep", "1", "--wait-lock"])
            #expect(next.status == 0, "trial \(trial): \(next.stderr)")
            let rows = try states(s)
            let disk = revsOnDisk(s)
            for (rev, state) in rows {
                if state == "ready" { #expect(disk.contains(rev), "trial \(trial): \(rev) ready but missing") }
                if state == "deleted" { #expect(!disk.contains(rev), "trial \(trial): \(rev) deleted but present") }
                #expect(state == "ready" || state == "deleted", "trial \(trial): \(rev) left \(state)")
            }
            for rev in disk { #expect(rows[rev] == "ready", "trial \(trial): \(rev) on disk without a ready row") }
            #expect(listing(s.root + "/.trees/trash").isEmpty)
        }
        let final = try s.trees(["gc", "--min-age", "0", "--keep", "1", "--dry-run"])
        #expect(revsOnDisk(s).count == 2, "gc would say: \(final.stdout)") // current and one kept
    }

    @Test(.enabled(if: Facility.has("/usr/bin/systemd-analyze"), "needs systemd-analyze"))
    func systemdUnitsVerify() throws {
        let s = try Scratch()
        let units = fixtures.deletingLastPathComponent().appendingPathComponent("contrib/systemd")
        let service = try String(contentsOf: units.appendingPathComponent("trees-gc.service"), encoding: .utf8)
        #expect(service.contains("ExecStart=/usr/local/bin/trees gc"))
        try service.replacingOccurrences(of: "/usr/local/bin/trees", with: treesBinary)
            .write(toFile: s.path + "/trees-gc.service", atomically: false, encoding: .utf8)
        let timer = try String(contentsOf: units.appendingPathComponent("trees-gc.timer"), encoding: .utf8)
        #expect(timer.contains("Persistent=true") && timer.contains("OnCalendar=hourly"))
        try timer.write(toFile: s.path + "/trees-gc.timer", atomically: false, encoding: .utf8)
        let r = try run("/usr/bin/systemd-analyze", ["verify", "--man=no", s.path + "/trees-gc.timer", s.path + "/trees-gc.service"])
        #expect(r.status == 0, "\(r.stderr)")
    }
}

/// Lazily unmounts every mount below `path` (a test's own tmpfs, wherever it moved).
func unmountAll(under path: String) {
    guard let mounts = try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8) else { return }
    for line in mounts.split(separator: "\n") {
        let fields = line.split(separator: " ")
        guard fields.count > 1, fields[1].hasPrefix(path + "/") else { continue }
        _ = try? run("/bin/umount", ["-l", String(fields[1])])
    }
}
