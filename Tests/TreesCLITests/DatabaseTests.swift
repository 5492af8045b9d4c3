import Foundation
import Testing

/// A state database that is missing, empty or someone else's beside installed
/// trees is an error that names the path and the way out, never an empty
/// answer, and trees never adds its tables to a foreign file.
@Suite("state database never silently re-created")
struct DatabaseTests {
    enum Damage: String, CaseIterable {
        case missing, zeroBytes, foreign, foreignApplicationID
    }

    func damage(_ s: Scratch, _ how: Damage) throws {
        let db = s.root + "/.trees/state.db"
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) }
        switch how {
        case .missing: break
        case .zeroBytes: FileManager.default.createFile(atPath: db, contents: Data())
        case .foreign: #expect(try run("/usr/bin/sqlite3", [db, "CREATE TABLE invoices (id INTEGER)"]).status == 0)
        case .foreignApplicationID:
            // trees' own tables, but stamped by another application.
            #expect(try run("/usr/bin/sqlite3", [db, "PRAGMA application_id = 42; CREATE TABLE trees (id INTEGER)"]).status == 0)
        }
    }

    @Test(arguments: Damage.allCases)
    func aDamagedDatabaseBesideTreesIsAnErrorNotAnEmptyAnswer(_ how: Damage) throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        try damage(s, how)
        let db = s.root + "/.trees/state.db"
        let before = FileManager.default.contents(atPath: db)
        for command in [["list"], ["list", "--json"], ["gc"], ["activate", "app@r1"], ["rollback", "app"], ["pin", "app@r1"],
                        ["install", "app@r3", s.path + "/src-r1"]] {
            let r = try s.trees(command)
            #expect(r.status == 1, "\(how) \(command): \(r.status) \(r.stdout) \(r.stderr)")
            #expect(r.stderr.contains(db), "\(how) \(command): \(r.stderr)")
            #expect(r.stderr.contains("trees doctor --repair"), "\(how) \(command): \(r.stderr)")
            #expect(!r.stdout.contains("no trees") && r.stdout != "[\n\n]\n", "\(how) \(command): \(r.stdout)")
        }
        // Nothing was created, emptied or added to.
        if how == .missing {
            #expect(!FileManager.default.fileExists(atPath: db))
        } else {
            #expect(FileManager.default.contents(atPath: db) == before)
            let tables = try run("/usr/bin/sqlite3", [db, ".tables"]).stdout
            #expect(!tables.contains("history") && !tables.contains("leases"), "\(tables)")
        }
        #expect(!s.exists("root/app/r3"))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: s.root + "/app/current") == "r2")
    }

    @Test func aFreshRootStillCreatesItsDatabaseStampedAsTrees() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        let id = try run("/usr/bin/sqlite3", [s.root + "/.trees/state.db", "PRAGMA application_id"])
        #expect(id.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == String(0x5452_4545))
        // A root whose .trees exists but holds no tree yet and no database is still fresh.
        let t = try Scratch()
        try FileManager.default.createDirectory(atPath: t.root + "/.trees", withIntermediateDirectories: true)
        let r = try t.trees(["list", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        // A zero-byte file with no tree beside it (an install killed while creating it) is fresh too.
        FileManager.default.createFile(atPath: t.root + "/.trees/state.db2", contents: Data())
        try? FileManager.default.removeItem(atPath: t.root + "/.trees/state.db")
        FileManager.default.createFile(atPath: t.root + "/.trees/state.db", contents: Data())
        try t.write("src/a", "a\n")
        let i = try t.trees(["install", "app@r1", t.path + "/src"])
        #expect(i.status == 0, "\(i.stderr)")
    }

    @Test func aDatabaseFromBeforeApplicationIDIsAdoptedAndStamped() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        let db = s.root + "/.trees/state.db"
        #expect(try run("/usr/bin/sqlite3", [db, "PRAGMA application_id = 0"]).status == 0)
        let r = try s.trees(["list", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect((try json(r.stdout) as? [Any])?.count == 1)
        #expect(try run("/usr/bin/sqlite3", [db, "PRAGMA application_id"]).stdout.hasPrefix(String(0x5452_4545)))
    }
}
