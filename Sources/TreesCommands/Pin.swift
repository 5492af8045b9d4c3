import ArgumentParser
import TreesCore

struct Pin: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pin", abstract: "Never collect this tree (until unpinned).", discussion: "Exit status: 66 no such tree.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The tree to pin.", valueName: "NAME@REV")) var tree: String

    func run() throws { try setPinned(tree, true, global) }
}

struct Unpin: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unpin", abstract: "Let gc collect this tree again.", discussion: "Exit status: 66 no such tree.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The tree to unpin.", valueName: "NAME@REV")) var tree: String

    func run() throws { try setPinned(tree, false, global) }
}

/// `pin` and `unpin` differ only in the flag they set.
private func setPinned(_ tree: String, _ pinned: Bool, _ global: GlobalOptions) throws {
    let ref = try TreeRef(parsing: tree)
    let (root, store) = try global.openExisting()
    try Collector(root: root, store: store).setPinned(ref, pinned)
}
