import ArgumentParser
import TreesCore

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that a tree still holds exactly what was installed.",
        discussion: "Compares content, file types, every mode bit and owners with what install recorded. Exits 0 when intact, 65 listing each difference (paths escaped, e.g. \\x0a) when modified.\n\n\(exitStatusHelp)")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The tree to verify.", valueName: "NAME@REV"))
    var tree: String

    @Flag(help: "Print the result as JSON.")
    var json = false

    struct Report: Encodable {
        let tree: String
        let intact: Bool
        let differences: [String]
    }

    func run() throws {
        let ref = try TreeRef(parsing: tree)
        let (root, store) = try global.openExisting()
        let progress = global.progress()
        let differences = try Verifier(root: root, store: store).verify(ref, progress: progress.handler)
        progress.finish()
        if json {
            try printJSON(Report(tree: ref.description, intact: differences.isEmpty, differences: differences))
        } else if differences.isEmpty {
            printLine("\(ref): intact")
        } else {
            printLine("\(ref): modified")
            for d in differences { printLine("  \(d)") }
        }
        if !differences.isEmpty { throw CommandFailure(status: 65) }
    }
}
