import Foundation
import Testing

/// `trees doctor [--repair] [--json]`: each disagreement is reported (exit
/// 65), repaired where safe, and nothing at ROOT/NAME/REV is ever deleted.
@Suite("trees doctor")
struct DoctorTests {
    func kinds(_ s: Scratch, repair: Bool = false) throws -> (Int32, [String: Bool]) {
        let r = try s.trees(["doctor", "--json"] + (repair ? ["--repair"] : []))
        guard let report = try json(r.stdout) as? [String: Any], let findings = report["findings"] as? [[String: Any]] else {
            Issue.record("doctor --json printed \(r.stdout) \(r.stderr)")
            return (r.status, [:])
        }
        var result: [String: Bool] = [:]
        for f in findings { result[f["kind"] as? String ?? ""] = f["repaired"] as? Bool ?? false }
        return (r.status, result)
    }

    func sqlite(_ s: Scratch, _ sql: String) throws {
        #expect(try run("/usr/bin/sqlite3", [s.root + "/.trees/state.db", sql]).status == 0)
    }

    @Test func aConsistentRootIsClean() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        let (status, found) = try kinds(s)
        #expect(status == 0 && found.isEmpty, "\(found)")
        #expect(try s.trees(["doctor"]).stdout.contains("agree"))
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3")))
    func eachDisagreementIsReportedThenRepaired() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2", "r3"])
        // A tree the database forgot, a row whose directory is gone, a lost
        // manifest, a stuck state, a stale record of current, and leftovers.
        try sqlite(s, "DELETE FROM trees WHERE rev = 'r1'")
        _ = try run("/bin/rm", ["-rf", s.root + "/app/r2"])
        try sqlite(s, "DELETE FROM manifests WHERE tree_id = (SELECT id FROM trees WHERE rev = 'r3')")
        try s.write("src-r4/a", "a\n")
        #expect(try s.trees(["install", "app@r4", s.path + "/src-r4"]).status == 0)
        try sqlite(s, "UPDATE trees SET state = 'condemned' WHERE rev = 'r4'")
        try sqlite(s, "UPDATE trees SET deactivated_at = 1 WHERE rev = 'r3'")
        try FileManager.default.createDirectory(atPath: s.root + "/.trees/staging/app@r9.1.x", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: s.root + "/.trees/trash/app@r8.99/x", withIntermediateDirectories: true)
        symlink("r3", s.root + "/app/.current.new")

        let (status, found) = try kinds(s)
        #expect(status == 65)
        for kind in ["directory-without-row", "row-without-directory", "missing-manifest", "stuck-collecting",
                     "activation-record", "staging-leftover", "trash-leftover", "link-leftover"] {
            #expect(found[kind] == false, "\(kind) not reported: \(found)")
        }
        let (repairStatus, repaired) = try kinds(s, repair: true)
        #expect(repairStatus == 0, "\(repaired)")
        #expect(repaired.values.allSatisfy { $0 }, "\(repaired)")
        #expect(try kinds(s).1.isEmpty)
        // Nothing installed was deleted; the forgotten tree is back and verifiable.
        for rev in ["r1", "r3", "r4"] {
            #expect(s.exists("root/app/\(rev)"))
            #expect(try s.trees(["verify", "app@\(rev)"]).status == 0, "\(rev)")
        }
        #expect(listing(s.root + "/.trees/staging").isEmpty && listing(s.root + "/.trees/trash").isEmpty)
    }

    /// A tree a killed command left between its two renames (`Transit`),
    /// with its top still writable, and without the row its command's own
    /// recovery would settle it by (a database rebuilt meanwhile): doctor
    /// reports it, and --repair seals it and puts it at REV, never deletes it.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3")))
    func aTreeLeftInTransitIsSealedAndPutInPlace() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2", "r3"])
        for (rev, way) in [("r1", "leaving"), ("r2", "arriving")] {
            #expect(rename(s.root + "/app/\(rev)", s.root + "/app/.\(rev).\(way)") == 0)
            #expect(chmod(s.root + "/app/.\(rev).\(way)", 0o755) == 0)
            try sqlite(s, "DELETE FROM trees WHERE rev = '\(rev)'")
        }
        let (status, found) = try kinds(s)
        #expect(status == 65 && found["tree-in-transit"] == false, "\(found)")
        let (repairStatus, repaired) = try kinds(s, repair: true)
        #expect(repairStatus == 0 && repaired["tree-in-transit"] == true, "\(repaired)")
        for rev in ["r1", "r2"] {
            var st = stat()
            #expect(lstat(s.root + "/app/\(rev)", &st) == 0 && st.st_mode & 0o7777 == 0o555, "\(rev)")
            #expect(try s.trees(["verify", "app@\(rev)"]).status == 0, "\(rev)")
        }
        #expect(!s.exists("root/app/.r1.leaving") && !s.exists("root/app/.r2.arriving"))
    }

    @Test func aMissingDatabaseIsRebuiltFromTheTreesOnDisk() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: s.root + "/.trees/state.db" + suffix) }
        let (status, found) = try kinds(s)
        #expect(status == 65 && found["database-missing"] == false, "\(found)")
        #expect(try s.trees(["list"]).status == 1)
        let (repairStatus, repaired) = try kinds(s, repair: true)
        #expect(repairStatus == 0 && repaired["database-missing"] == true, "\(repaired)")
        let list = try json(try s.trees(["list", "--json"]).stdout) as? [[String: Any]] ?? []
        #expect(list.count == 2)
        #expect(list.first { $0["rev"] as? String == "r2" }?["current"] as? Bool == true)
        #expect(try s.trees(["verify", "app@r1"]).status == 0)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3")))
    func aForeignDatabaseIsMovedAsideNotOverwritten() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        let db = s.root + "/.trees/state.db"
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) }
        #expect(try run("/usr/bin/sqlite3", [db, "CREATE TABLE invoices (id INTEGER); INSERT INTO invoices VALUES (7)"]).status == 0)
        let (repairStatus, repaired) = try kinds(s, repair: true)
        #expect(repairStatus == 0 && repaired["database-foreign"] == true, "\(repaired)")
        let aside = try FileManager.default.contentsOfDirectory(atPath: s.root + "/.trees").filter { $0.hasPrefix("state.db.aside-") && !$0.contains("-wal") && !$0.contains("-shm") }
        #expect(aside.count == 1)
        #expect(try run("/usr/bin/sqlite3", [s.root + "/.trees/" + (aside.first ?? ""), "SELECT id FROM invoices"]).stdout == "7\n")
        #expect(try s.trees(["verify", "app@r1"]).status == 0)
    }

    @Test func aDamagedDatabaseIsReportedNeverOverwritten() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        let db = s.root + "/.trees/state.db"
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) }
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: db))
        let (status, found) = try kinds(s, repair: true)
        #expect(status == 65 && found["database-damaged"] == false, "\(found)")
        #expect(FileManager.default.contents(atPath: db) == Data(repeating: 0x41, count: 8192))
    }
}
