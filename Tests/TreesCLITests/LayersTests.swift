import Foundation
import Testing

/// Issue 15: the folders of TreesCore depend one way. `contrib/check-layers`
/// orders them in layers and fails on any cycle, so a new dependency that
/// runs upward fails the suite.
@Suite("folders depend one way")
struct LayersTests {
    static let script = fixtures.deletingLastPathComponent().appendingPathComponent("contrib/check-layers").path

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "needs python3"))
    func theCoreIsLayered() throws {
        let r = try run("/usr/bin/python3", [Self.script])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("layer 0: Support"), "\(r.stdout)")
        // The check sees the code: it finds the folders' own dependencies.
        let listed = try run("/usr/bin/python3", [Self.script, "--list"])
        #expect(listed.stdout.contains("Install -> Support"), "\(listed.stdout)")
    }

    /// A loop through three folders is no pair, and still fails.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "needs python3"))
    func aCycleOfThreeFoldersFails() throws {
        let s = try Scratch()
        try s.write("src/A/A.swift", "struct Alpha { var b: Beta }\n")
        try s.write("src/B/B.swift", "struct Beta { var c: Gamma }\n")
        try s.write("src/C/C.swift", "struct Gamma { }\n")
        let layered = try run("/usr/bin/python3", [Self.script, "--root", s.path + "/src"])
        #expect(layered.status == 0 && layered.stdout.contains("layer 0: C"), "\(layered.stdout)")
        try s.write("src/C/C.swift", "struct Gamma { var a: Alpha? }\n")
        let cyclic = try run("/usr/bin/python3", [Self.script, "--root", s.path + "/src"])
        #expect(cyclic.status == 1, "\(cyclic.stdout)")
        #expect(cyclic.stdout.contains("cycle: C -> A: Alpha"), "\(cyclic.stdout)")
    }
}
