import Foundation
import Testing

/// Issue 15: the folders of TreesCore depend one way. `contrib/check-layers`
/// lists every pair that depends both ways and fails on one that
/// `contrib/layers-allowed.txt` (the pairs left from before, to be removed)
/// does not name: a new two-way dependency fails the suite.
@Suite("folders depend one way")
struct LayersTests {
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "needs python3"))
    func noNewTwoWayFolderPair() throws {
        let script = fixtures.deletingLastPathComponent().appendingPathComponent("contrib/check-layers").path
        let r = try run("/usr/bin/python3", [script])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        // The check sees the code: it finds the folders' own dependencies.
        let listed = try run("/usr/bin/python3", [script, "--list"])
        #expect(listed.stdout.contains("Install -> Support"), "\(listed.stdout)")
    }
}
