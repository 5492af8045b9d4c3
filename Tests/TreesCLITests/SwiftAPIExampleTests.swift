import Foundation
import Testing

@Suite("README's Swift example")
struct SwiftAPIExampleTests {
    let source = fixtures.deletingLastPathComponent().appendingPathComponent("contrib/examples/supervisor/main.swift")

    @Test("README shows exactly contrib/examples/supervisor/main.swift")
    func readmeShowsTheExample() throws {
        let readme = try String(contentsOf: fixtures.deletingLastPathComponent().appendingPathComponent("README.md"), encoding: .utf8)
        let start = try #require(readme.range(of: "```swift\n"))
        let end = try #require(readme.range(of: "```", range: start.upperBound..<readme.endIndex))
        #expect(String(readme[start.upperBound..<end.lowerBound]) == (try String(contentsOf: source, encoding: .utf8)))
    }

    @Test("the example, built with the package, runs a job from current under a lease and waits for the tree")
    func exampleRuns() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        let example = URL(fileURLWithPath: treesBinary).deletingLastPathComponent().appendingPathComponent("supervisor-example").path
        try #require(FileManager.default.isExecutableFile(atPath: example), "swift build builds supervisor-example")
        // The job proves where it ran (its cwd is the tree) and that its supervisor held a lease meanwhile.
        let job = "cat lib/f0.txt && \(treesBinary) --root \(s.root) lease list --json"
        let r = try run(example, [s.root, "app", job])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("r1 0\n"), "the job ran in app@r1: \(r.stdout)")
        #expect(r.stdout.contains("\"pid\" : "), "the lease was held while the job ran")
        #expect(r.stdout.contains("ran from app@r1 (lease "))
        #expect(r.stdout.contains("exit status 0"))
        #expect(r.stdout.contains("app@r1 is free"))
        // The lease was given back.
        #expect(try s.trees(["lease", "list", "--json"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[\n\n]"
                || (try json(s.trees(["lease", "list", "--json"]).stdout) as? [Any])?.isEmpty == true)
        #expect(try run(example, [s.path + "/none", "app", "true"]).status == 64)
    }
}
