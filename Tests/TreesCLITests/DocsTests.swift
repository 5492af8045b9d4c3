import Foundation
import Testing

@Suite("manual page and help stay true")
struct DocsTests {
    let manPage = fixtures.deletingLastPathComponent().appendingPathComponent("man/trees.1").path

    /// The subcommands `trees --help` lists.
    func subcommands() throws -> [String] {
        let help = try run(treesBinary, ["--help"]).stdout
        guard let start = help.range(of: "SUBCOMMANDS:") else { return [] }
        return help[start.upperBound...].split(separator: "\n").compactMap { line in
            guard line.hasPrefix("  "), !line.hasPrefix("   "), !line.hasPrefix("  See ") else { return nil }
            return line.split(separator: " ").first.map(String.init)
        }
    }

    @Test func everyCommandIsInTheManualAndHasHelp() throws {
        let commands = try subcommands()
        #expect(commands.count == 21, "\(commands)")
        let page = try String(contentsOfFile: manPage, encoding: .utf8)
        for command in commands {
            #expect(page.contains(".Cm \(command)") || page.contains("Cm \(command) "), "\(command) missing from man/trees.1")
            let help = try run(treesBinary, [command, "--help"])
            #expect(help.status == 0 && help.stdout.contains("USAGE: trees \(command)"), "\(command) --help")
        }
        for section in ["ENVIRONMENT", "FILES", "EXIT STATUS", "EXAMPLES"] {
            #expect(page.contains(".Sh \(section)"))
        }
    }

    @Test(.enabled(if: Facility.has("/usr/bin/mandoc"), "needs mandoc"))
    func manualIsLintClean() throws {
        let r = try run("/usr/bin/mandoc", ["-Tlint", manPage])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
    }

    @Test func exitStatusesAreDocumentedInHelp() throws {
        let help = try run(treesBinary, ["--help"]).stdout
        for status in ["64", "65", "66", "75"] { #expect(help.contains("  \(status) ")) }
    }
}
