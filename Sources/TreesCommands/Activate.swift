import ArgumentParser
import TreesCore

struct Activate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activate",
        abstract: "Make an installed revision current.",
        discussion: "Points ROOT/NAME/current at REV with one rename(2) of a fresh relative symlink.\n\n\(exitStatusHelp)")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The tree to make current.", valueName: "NAME@REV"))
    var tree: String

    func run() throws {
        let ref = try TreeRef(parsing: tree)
        let (root, store) = try global.openExisting()
        try Activation(root: root, store: store).activate(ref)
        printLine(root.treePath(ref))
        global.refreshMetrics()
    }
}
