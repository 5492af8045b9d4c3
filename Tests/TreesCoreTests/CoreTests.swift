import Foundation
import Testing
@testable import TreesCore

/// A temporary directory for core tests, removed afterwards.
final class TempDir {
    let path: String
    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("trees-core-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.resolvingSymlinksInPath().path
    }
    deinit {
        _ = try? Process.run(URL(fileURLWithPath: "/bin/chmod"), arguments: ["-R", "u+w", path]).waitUntilExit()
        try? FileManager.default.removeItem(atPath: path)
    }
    func write(_ rel: String, _ text: String) throws {
        let url = URL(fileURLWithPath: path + "/" + rel)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: false, encoding: .utf8)
    }
}

@Suite struct NameTests {
    @Test(arguments: ["a", "importd", "a.b_c-d", "0", String(repeating: "z", count: 64)])
    func validNames(_ text: String) throws { #expect(try TreeName(text).value == text) }

    @Test(arguments: ["", "A", "-a", ".a", "_a", "a/b", "a b", "a@b", "é", String(repeating: "z", count: 65), "a\u{0}"])
    func invalidNames(_ text: String) {
        #expect(throws: TreesError.self) { try TreeName(text) }
        #expect((try? TreeName(text)) == nil)
    }

    @Test(arguments: ["r1", "R9921", "3f2a9c1", "1.2.3+build-4", "a_b", String(repeating: "r", count: 128), "currentx"])
    func validRevs(_ text: String) throws { #expect(try Rev(text).value == text) }

    @Test(arguments: ["", "current", ".r", "-r", "+r", "r/1", "..", "r 1", "r\n", String(repeating: "r", count: 129)])
    func invalidRevs(_ text: String) {
        #expect((try? Rev(text)) == nil)
    }

    @Test func treeRefParsesAndRefusesWithExit65() throws {
        let ref = try TreeRef(parsing: "app@r1")
        #expect(ref.name.value == "app" && ref.rev.value == "r1")
        for bad in ["app", "@r1", "app@", "app@r1@r2", "../app@r1"] {
            do { _ = try TreeRef(parsing: bad); Issue.record("accepted \(bad)") } catch let e as TreesError {
                #expect(e.exitStatus == 65)
            }
        }
    }

    @Test(arguments: [("90", 90), ("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86400), ("0", 0)] as [(String, Int64)])
    func durations(_ text: String, _ seconds: Int64) { #expect(parseDuration(text) == seconds) }

    @Test(arguments: ["", "s", "5x", "-5", "1.5m", "5 m", "m5", "99999999999999"])
    func badDurations(_ text: String) { #expect(parseDuration(text) == nil) }

    @Test func rfc3339Formatting() {
        #expect(rfc3339(0) == "1970-01-01T00:00:00Z")
        #expect(rfc3339(1_700_000_000) == "2023-11-14T22:13:20Z")
    }
}

@Suite struct StoreTests {
    @Test func migrationsRunOnceAndRecordTheSchemaVersion() throws {
        let t = try TempDir()
        let root = try Root.create(t.path + "/root")
        do {
            let store = try root.openStore(create: true)
            #expect(try store.query("PRAGMA user_version").first?.first?.int == Store.schemaVersion)
            #expect(try store.query("PRAGMA journal_mode").first?.first?.text == "wal")
            try store.write { try store.record("app", "r1", event: "test") }
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
                try store.record("app", "r1", event: "test")
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

@Suite struct ManifestTests {
    @Test func digestIsStableAndSensitiveToContentModeAndLinks() throws {
        let t = try TempDir()
        try t.write("a/x.txt", "x")
        try t.write("a/sub/y.txt", "y")
        symlink("x.txt", t.path + "/a/link")
        let d1 = try Manifest.build(of: Directory.open(t.path + "/a"), seal: false).digest
        #expect(try Manifest.build(of: Directory.open(t.path + "/a"), seal: false).digest == d1)

        try t.write("a/x.txt", "X")
        let d2 = try Manifest.build(of: Directory.open(t.path + "/a"), seal: false).digest
        #expect(d2 != d1)
        try t.write("a/x.txt", "x")
        chmod(t.path + "/a/x.txt", 0o755)
        let d3 = try Manifest.build(of: Directory.open(t.path + "/a"), seal: false).digest
        #expect(d3 != d1)
        chmod(t.path + "/a/x.txt", 0o644)
        unlink(t.path + "/a/link")
        symlink("sub/y.txt", t.path + "/a/link")
        #expect(try Manifest.build(of: Directory.open(t.path + "/a"), seal: false).digest != d1)
    }

    @Test func encodingRoundTripsAndDiffers() throws {
        let t = try TempDir()
        try t.write("a/name with\nnewline", "1")
        try t.write("a/b/c", "2")
        let m = try Manifest.build(of: Directory.open(t.path + "/a"), seal: false)
        let decoded = try #require(Manifest.decode(m.encoded))
        #expect(decoded == m)
        #expect(decoded.digest == m.digest)
        #expect(m.files == 2 && m.bytes == 2)
        #expect(Manifest.decode([1, 2, 3]) == nil)
        try t.write("a/b/c", "3")
        let changed = try Manifest.build(of: Directory.open(t.path + "/a"), seal: false)
        #expect(m.differences(to: changed) == ["modified: b/c"])
    }

    @Test func sealRemovesWriteBitsAndKeepsExec() throws {
        let t = try TempDir()
        try t.write("a/run", "#!/bin/sh")
        chmod(t.path + "/a/run", 0o775)
        _ = try Manifest.build(of: Directory.open(t.path + "/a"), seal: true)
        var st = stat()
        stat(t.path + "/a/run", &st)
        #expect(st.st_mode & 0o777 == 0o555)
        stat(t.path + "/a", &st)
        #expect(st.st_mode & 0o222 == 0)
    }
}

@Suite struct ActivationTests {
    /// Readers of `current` never see it missing while it is swapped.
    @Test func currentSwapIsAtomic() throws {
        let t = try TempDir()
        try t.write("src/f", "f")
        let root = try Root.create(t.path + "/root")
        let store = try root.openStore(create: true)
        let installer = Installer(root: root, store: store)
        for rev in ["r1", "r2"] {
            _ = try installer.install(TreeRef(parsing: "app@\(rev)"), from: .directory(t.path + "/src"))
        }
        let activation = Activation(root: root, store: store)
        try activation.activate(TreeRef(parsing: "app@r1"))
        let link = root.path + "/app/current"
        let stop = ManagedAtomicFlag()
        let reader = Thread {
            var buf = [CChar](repeating: 0, count: 64)
            while !stop.isSet {
                let n = readlink(link, &buf, 64)
                if n < 0 { stop.missing = true }
            }
        }
        reader.start()
        for i in 0..<300 { try activation.activate(TreeRef(parsing: i % 2 == 0 ? "app@r2" : "app@r1")) }
        stop.isSet = true
        Thread.sleep(forTimeInterval: 0.05)
        #expect(!stop.missing)
        #expect(try Activation.currentRev(of: TreeName("app"), in: root)?.value == "r1")
        let entries = try FileManager.default.contentsOfDirectory(atPath: root.path + "/app").sorted()
        #expect(entries == ["current", "r1", "r2"])
    }
}

/// A tiny shared flag for the reader thread (test-only).
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var _set = false
    private var _missing = false
    var isSet: Bool {
        get { lock.withLock { _set } }
        set { lock.withLock { _set = newValue } }
    }
    var missing: Bool {
        get { lock.withLock { _missing } }
        set { lock.withLock { _missing = newValue } }
    }
}
