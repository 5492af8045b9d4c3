import Foundation
import Testing

/// `trees exec` reads plain argument lines itself (ExecRequest's fast path)
/// and leaves the rest to argument-parser: both must mean the same, and
/// every mistake must still get argument-parser's message and status 64.
@Suite("exec arguments, fast path and full parser")
struct ExecArgumentsTests {
    func scratchWithTree() throws -> Scratch {
        let s = try Scratch()
        try s.write("src/README", "x\n")
        #expect(try s.trees(["install", "app@r1", s.path + "/src", "--activate"]).status == 0)
        return s
    }

    @Test(arguments: [
        ["exec", "--root", "ROOT", "app", "--", "/bin/sh", "-c", "echo $TREES_TREE; pwd"],
        ["exec", "--root=ROOT", "app", "--", "/bin/sh", "-c", "echo $TREES_TREE; pwd"],
        ["exec", "app", "--root", "ROOT", "--", "/bin/sh", "-c", "echo $TREES_TREE; pwd"],
        ["exec", "--root", "ROOT", "app@r1", "--no-chdir", "--", "/bin/sh", "-c", "echo $TREES_TREE; pwd"],
        // Repeated: not the fast path's, but argument-parser accepts it.
        ["exec", "--root", "ROOT", "--no-chdir", "app", "--no-chdir", "--", "/bin/sh", "-c", "echo $TREES_TREE; pwd"],
    ])
    func plainLinesRunTheJobFromTheTree(_ line: [String]) throws {
        let s = try scratchWithTree()
        let args = line.map { $0.replacingOccurrences(of: "ROOT", with: s.root) }
        let r = try run(treesBinary, args, cwd: s.path)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "app@r1")
        let inTree = lines.last == s.root + "/app/r1"
        #expect(inTree == !line.contains("--no-chdir"), "\(lines)")
    }

    @Test(arguments: [
        (["exec", "--root", "ROOT", "app", "--"], "Give the command after --"),
        (["exec", "--root", "ROOT", "app", "--cgroup-parent", "x", "--", "/bin/true"], "--cgroup-parent needs --cgroup"),
        (["exec", "--root", "ROOT", "app", "--bogus", "--", "/bin/true"], "Unknown option '--bogus'"),
        (["exec", "--root", "ROOT", "app", "other", "--", "/bin/true"], ""),
        (["exec", "--root", "ROOT", "app", "/bin/true"], ""),
    ])
    func mistakesGetArgumentParsersMessageAnd64(_ line: [String], _ message: String) throws {
        let s = try scratchWithTree()
        let r = try run(treesBinary, line.map { $0.replacingOccurrences(of: "ROOT", with: s.root) })
        #expect(r.status == 64, "\(r.stdout) \(r.stderr)")
        #expect(message.isEmpty || r.stderr.contains(message))
        #expect(r.stderr.contains("trees exec"), "usage names the whole command: \(r.stderr)")
    }

    @Test func helpIsArgumentParsers() throws {
        let r = try run(treesBinary, ["exec", "--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("USAGE: trees exec"))
    }
}
