import Foundation
import Testing
@testable import TreesCore

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
        #expect(try root.currentRev(of: TreeName("app"))?.value == "r1")
        let entries = try FileManager.default.contentsOfDirectory(atPath: root.path + "/app").sorted()
        #expect(entries == ["current", "r1", "r2"])
    }
}
