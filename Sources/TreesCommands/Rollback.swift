import ArgumentParser
import TreesCore

struct Rollback: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Make the revision that was current before the present one current again.",
        discussion: "Exits 66 when there is no previous revision, or it is no longer installed.\n\n\(exitStatusHelp)")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The code base to roll back.", valueName: "NAME"))
    var name: String

    func run() throws {
        let name = try TreeName(self.name)
        let (root, store) = try global.openExisting()
        let ref = try Activation(root: root, store: store).rollback(name)
        printLine(root.treePath(ref))
        global.refreshMetrics()
    }
}
