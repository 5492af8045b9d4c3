import Foundation
import Testing

@Suite("progress on a terminal")
struct ProgressTests {
    /// Runs trees with stderr (and stdout) on a pseudo-terminal made by script(1); returns what the terminal showed.
    func onTerminal(_ s: Scratch, _ arguments: [String]) throws -> RunResult {
        let command = ([treesBinary, "--root", s.root] + arguments).map { "'\($0)'" }.joined(separator: " ")
        return try run("/usr/bin/script", ["-qec", command, "/dev/null"])
    }

    @Test("install and gc draw one updating line (files, bytes, rate) on a terminal; --quiet and a pipe draw none",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "needs script(1) (bsdutils)"))
    func progressOnlyOnATerminal() throws {
        let s = try Scratch()
        // Enough files (12,000 a tree; gc deletes two) that copying and deleting
        // take well over the half second before the first draw, even on an idle
        // machine: with one syncfs and hashing while copying, 3,000 no longer did.
        for d in 0..<60 {
            try FileManager.default.createDirectory(atPath: "\(s.path)/src/d\(d)", withIntermediateDirectories: true)
            for f in 0..<200 { FileManager.default.createFile(atPath: "\(s.path)/src/d\(d)/f\(f)", contents: Data(count: 100)) }
        }
        let install = try onTerminal(s, ["install", "app@r1", s.path + "/src", "--activate"])
        #expect(install.status == 0)
        #expect(install.stdout.contains("\r\u{1B}[K") && install.stdout.contains(" files, ") && install.stdout.contains("/s"),
                "\(install.stdout.prefix(300))")

        // --no-dedup: gc must have two full trees to delete, not one and its hard links.
        let quiet = try onTerminal(s, ["--quiet", "install", "app@r2", s.path + "/src", "--no-dedup"])
        #expect(quiet.status == 0 && !quiet.stdout.contains("\u{1B}[K"), "\(quiet.stdout.prefix(300))")
        let piped = try s.trees(["install", "app@r3", fixtures.path + "/trees/sample", "--activate"])
        #expect(piped.status == 0 && !piped.stderr.contains("\u{1B}[K"))

        let gc = try run("/usr/bin/script", ["-qec", "\(treesBinary) --root \(s.root) gc --keep 0 --min-age 0", "/dev/null"],
                         environment: hostEnvironment)
        #expect(gc.status == 0)
        #expect(gc.stdout.contains("\r\u{1B}[Kdeleting app@r"), "\(gc.stdout.prefix(300))")
        #expect(gc.stdout.contains("deleted"))
    }
}
