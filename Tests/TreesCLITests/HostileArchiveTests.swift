import Foundation
import Testing

/// One line of fixtures/archives/CASES.tsv.
struct ArchiveCase: CustomStringConvertible, Sendable {
    let file: String
    let exit: Int32
    let what: String
    var description: String { file }

    static let all: [ArchiveCase] = {
        let url = fixtures.appendingPathComponent("archives/CASES.tsv")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").dropFirst().compactMap { line in
            let cols = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard cols.count >= 3, let exit = Int32(cols[1]) else { return nil }
            return ArchiveCase(file: String(cols[0]), exit: exit, what: String(cols[2]))
        }
    }()
}

@Suite("hostile archives")
struct HostileArchiveTests {
    @Test func corpusIsPresent() {
        #expect(ArchiveCase.all.filter { $0.exit == 65 }.count >= 15)
        #expect(ArchiveCase.all.filter { $0.exit == 0 }.count >= 5)
    }

    @Test(arguments: ArchiveCase.all)
    func archiveGetsItsDocumentedOutcome(_ c: ArchiveCase) throws {
        let s = try Scratch()
        // A sentinel beside the root: nothing may appear next to it or in it.
        try s.write("sentinel/keep", "keep\n")
        let before = listing(s.path).filter { !$0.hasPrefix("root") }
        let archive = fixtures.appendingPathComponent("archives/\(c.file)").path
        let r = try s.trees(["install", "app@r1", archive])
        #expect(r.status == c.exit, "\(c.file) (\(c.what)): \(r.stderr)")
        #expect(listing(s.path).filter { !$0.hasPrefix("root") } == before, "\(c.file) wrote outside the root")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/trees-fixture-escape"))
        let leaked = listing(s.root).filter { $0.contains("TREES_ESCAPE_MARKER") && !$0.hasPrefix("app/r1/") }
        #expect(leaked.isEmpty, "\(c.file) leaked \(leaked)")
        #expect(listing(s.root + "/.trees/staging").isEmpty)
        if c.exit == 0 {
            #expect(try s.trees(["verify", "app@r1"]).status == 0)
        } else {
            #expect(!s.exists("root/app/r1"), "\(c.file) left a tree behind")
            #expect(r.stderr.contains("trees: error:"))
        }
    }
}
