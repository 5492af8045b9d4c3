import Foundation
import Testing
@testable import TreesCore

@Suite struct StoreTests {
    @Test func migrationsRunOnceAndRecordTheSchemaVersion() throws {
        let t = try TempDir()
        let root = try Root.create(t.path + "/root")
        do {
            let store = try root.openStore(create: true)
            #expect(try store.query("PRAGMA user_version").first?.first?.int == Store.schemaVersion)
            #expect(try store.query("PRAGMA journal_mode").first?.first?.text == "wal")
            try store.write { try store.record("app", "r1", event: .installed) }
        }
        let again = try root.openStore()
        #expect(try again.query("SELECT count(*) FROM history").first?.first?.int == 1)
    }

    @Test func newerSchemaIsRefusedNotDowngraded() throws {
        let t = try TempDir()
        let root = try Root.create(t.path + "/root")
        try root.openStore(create: true).query("PRAGMA user_version = 99")
        do {
            _ = try root.openStore()
            Issue.record("opened a database from the future")
        } catch let e as TreesError {
            #expect(e.code == .database)
            #expect(e.description.contains("newer"))
        }
    }

    @Test func missingDatabaseIsNotCreatedUnlessAsked() throws {
        let t = try TempDir()
        let root = try Root.create(t.path + "/root")
        #expect(throws: TreesError.self) { try root.openStore(create: false) }
        #expect(!FileManager.default.fileExists(atPath: root.databasePath))
    }

    @Test func writeTransactionRollsBackOnError() throws {
        let t = try TempDir()
        let store = try Root.create(t.path + "/root").openStore(create: true)
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try store.write {
                try store.record("app", "r1", event: .installed)
                throw Boom()
            }
        }
        #expect(try store.query("SELECT count(*) FROM history").first?.first?.int == 0)
    }

    @Test func tamperedRowIsReportedNotTurnedIntoAPath() throws {
        let t = try TempDir()
        let store = try Root.create(t.path + "/root").openStore(create: true)
        try store.query("INSERT INTO trees (name, rev, state, path) VALUES ('../../etc', 'r1', 'ready', '/etc')")
        #expect(throws: TreesError.self) { try store.trees() }
    }
}
