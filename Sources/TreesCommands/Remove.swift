import ArgumentParser
import TreesCore

struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Delete one tree now, by the same protocol as gc.",
        discussion: """
            Refuses with exit 75 and the list of users when the tree is in use, current or \
            pinned, also when it becomes current or pinned while remove works; --wait waits \
            for it to drain first (with --timeout). The operator only. Exit 66 for no such \
            tree; 75 also when another gc or remove holds the gc lock for longer than \
            TREES_LOCK_TIMEOUT; 1 not the operator.
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The tree to delete.", valueName: "NAME@REV")) var tree: String
    @Flag(help: "Wait until nothing runs from the tree, then delete it.") var wait = false
    @Option(help: ArgumentHelp("With --wait, give up after this long (90, 30s, 5m, 2h, 1d; exit 75).", valueName: "DURATION")) var timeout: DurationArgument?

    func run() throws {
        let ref = try TreeRef(parsing: tree)
        let (root, store) = try global.openExisting()
        try root.requireOperator("remove a tree")
        var collector = Collector(root: root, store: store)
        collector.scanner.onPrivilegeNotice = WarningOnce().callAsFunction
        if wait {
            let result = try Waiter(scanner: collector.scanner).wait(for: ref, timeout: timeout?.interval)
            if !result.done {
                var users = result.report.holders(of: ref).map(\.who) + result.report.unknownListed.map { "pid \($0.pid) (unknown)" }
                let others = result.report.othersUninspectable.count
                if others > 0 { users.append("\(others) processes of other users (not inspected)") }
                throw TreesError(.temporary, "timed out waiting for \(ref); still in use by \(users.joined(separator: ", "))")
            }
        }
        guard let lock = try collector.lock(wait: true) else { return }
        let outcome = try withExtendedLifetime(lock) { try collector.remove(ref) }
        printLine("deleted \(ref) (\(formatBytes(outcome.bytesFreed)) freed)")
    }
}
