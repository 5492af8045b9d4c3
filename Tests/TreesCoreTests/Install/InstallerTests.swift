import Foundation
import Testing
@testable import TreesCore

/// `Installer` without the CLI: a tree appears complete and read-only, a
/// retried install is a no-op, conflicting content under the same NAME@REV
/// and a source inside the root are refused, and nothing is left behind.
@Suite struct InstallerTests {
    @Test func aTreeAppearsCompleteReadOnlyAndRecordedReady() throws {
        let t = try TempDir()
        let root = try Root.create(t.path + "/root")
        let store = try root.openStore(create: true)
        try t.write("src/bin/tool", "#!/bin/sh\n")
        try t.write("src/lib/a.txt", "a\n")
        let ref = try TreeRef(parsing: "app@r1")
        let result = try Installer(root: root, store: store).install(ref, from: .directory(t.path + "/src"))
        #expect(!result.alreadyInstalled)
        #expect(result.path == root.path + "/app/r1")
        #expect(try String(contentsOfFile: result.path + "/lib/a.txt", encoding: .utf8) == "a\n")
        #expect(try store.tree(ref)?.state == .ready)
        var st = stat()
        #expect(stat(result.path + "/lib/a.txt", &st) == 0 && st.st_mode & 0o222 == 0, "a tree's files are read-only")
        #expect(stat(result.path, &st) == 0 && st.st_mode & 0o222 == 0, "a tree's top is read-only")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path + "/.trees/staging").isEmpty)
    }

    @Test func aRetriedInstallIsANoOpAndDifferentContentIsRefused() throws {
        let t = try TempDir()
        let root = try Root.create(t.path + "/root")
        let store = try root.openStore(create: true)
        let installer = Installer(root: root, store: store)
        try t.write("src/f", "one\n")
        let ref = try TreeRef(parsing: "app@r1")
        _ = try installer.install(ref, from: .directory(t.path + "/src"))
        #expect(try installer.install(ref, from: .directory(t.path + "/src")).alreadyInstalled)
        try t.write("src/f", "two\n")
        #expect { try installer.install(ref, from: .directory(t.path + "/src")) } throws: { ($0 as? TreesError)?.code == .badInput }
        #expect(try String(contentsOfFile: root.path + "/app/r1/f", encoding: .utf8) == "one\n")
    }

    @Test(arguments: ["", "/.trees", "/.trees/staging", "/app"])
    func aSourceInsideTheRootIsRefused(_ below: String) throws {
        let t = try TempDir()
        let root = try Root.create(t.path + "/root")
        let store = try root.openStore(create: true)
        try t.write("src/f", "x\n")
        _ = try Installer(root: root, store: store).install(TreeRef(parsing: "app@r1"), from: .directory(t.path + "/src"))
        #expect { try Installer(root: root, store: store).install(TreeRef(parsing: "app@r2"), from: .directory(root.path + below)) } throws: {
            ($0 as? TreesError)?.code == .badInput
        }
        #expect(!FileManager.default.fileExists(atPath: root.path + "/app/r2"))
        #expect(try store.tree(TreeRef(parsing: "app@r2")) == nil)
    }
}
