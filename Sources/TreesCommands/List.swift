import ArgumentParser
import TreesCore

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List installed trees.",
        discussion: "\(exitStatusHelp)")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Only this code base.", valueName: "NAME"))
    var name: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    struct Row: Encodable {
        let name: String
        let rev: String
        let path: String
        let state: String
        let current: Bool
        let pinned: Bool
        let installed_at: String?
        let bytes: Int64
        let files: Int64
        let digest: String?
    }

    func run() throws {
        let filter = try name.map(TreeName.init)
        guard let root = try Root.openExisting(global.location) else {
            if json { try printJSON([Row]()) }
            return
        }
        let store = try root.openStore(create: true)
        var currents: [TreeName: Rev?] = [:]
        var rows: [Row] = []
        for tree in try store.trees(name: filter) {
            if currents[tree.ref.name] == nil {
                currents[tree.ref.name] = try Activation.currentRev(of: tree.ref.name, in: root)
            }
            rows.append(Row(
                name: tree.ref.name.value, rev: tree.ref.rev.value, path: root.treePath(tree.ref),
                state: tree.state.rawValue, current: currents[tree.ref.name]! == tree.ref.rev,
                pinned: tree.pinned, installed_at: tree.installedAt.map(rfc3339),
                bytes: tree.bytes, files: tree.files, digest: tree.digest))
        }
        if json {
            try printJSON(rows)
            return
        }
        printTable(["TREE", "STATE", "CURRENT", "PINNED", "INSTALLED", "SIZE", "FILES"], rows.map {
            ["\($0.name)@\($0.rev)", $0.state, $0.current ? "*" : "", $0.pinned ? "pinned" : "",
             $0.installed_at ?? "-", formatBytes($0.bytes), String($0.files)]
        })
    }
}
