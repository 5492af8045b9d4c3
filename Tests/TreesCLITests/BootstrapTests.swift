import Foundation
import Testing

@Suite("README's two commands and contrib/bootstrap")
struct BootstrapTests {
    let repository = fixtures.deletingLastPathComponent().path

    /// The command lines of README's "Getting going" block.
    func gettingGoing() throws -> [String] {
        let readme = try String(contentsOfFile: repository + "/README.md", encoding: .utf8)
        let section = try #require(readme.range(of: "## Getting going"))
        let start = try #require(readme.range(of: "```sh\n", range: section.upperBound..<readme.endIndex))
        let end = try #require(readme.range(of: "```", range: start.upperBound..<readme.endIndex))
        return readme[start.upperBound..<end.lowerBound].split(separator: "\n")
            .filter { !$0.hasPrefix("#") && !$0.isEmpty }.map(String.init)
    }

    @Test("the first command bootstraps then runs the demo; the second is the command .ci/run runs after bootstrapping")
    func twoCommands() throws {
        let commands = try gettingGoing()
        #expect(commands.count == 2)
        #expect(commands.first?.hasPrefix("contrib/bootstrap && swift run trees") == true)
        let ci = try String(contentsOfFile: repository + "/.ci/run", encoding: .utf8)
        let lines = ci.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
        #expect(lines.contains("bash contrib/bootstrap"))
        #expect(lines.last.map(String.init) == commands.last)
        #expect(!ci.contains("apt-get"), "the package list lives only in contrib/bootstrap")
    }

    @Test("the demo part of the first command works (with the built binary and a temporary root)")
    func demoRuns() throws {
        let s = try Scratch()
        let first = try #require(try gettingGoing().first)
        let demo = first.replacingOccurrences(of: "contrib/bootstrap && ", with: "")
            .replacingOccurrences(of: "swift run trees", with: treesBinary)
            .replacingOccurrences(of: "/tmp/trees-demo", with: s.root)
        #expect(demo.contains(s.root) && !demo.contains("swift run"))
        let r = try run("/bin/sh", ["-c", demo], cwd: repository)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("demo@r1") && r.stdout.contains("*"))
    }

    @Test("with everything installed bootstrap does nothing; when a package is missing and it may not install, it prints the exact apt-get command and exits 1")
    func bootstrapCheck() throws {
        // --check takes the path a user without root takes (no install), without
        // starting a process under another uid, which concurrent gc tests could not inspect.
        let script = repository + "/contrib/bootstrap"
        let missing = "trees-test-no-such-package"
        let r = try run("/bin/bash", [script, "--check", missing])
        #expect(r.status == 1)
        #expect(r.stderr.contains("apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \(missing)"),
                "only the missing package is named: \(r.stderr)")
        let present = try run("/bin/bash", [script, "--check"])
        #expect(present.status == 0, "every package is installed here (.ci/run ran bootstrap): \(present.stderr)")
    }
}
