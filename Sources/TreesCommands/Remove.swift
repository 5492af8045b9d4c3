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

            remove NAME --purge-shared deletes ROOT/NAME/shared, the data of every shared path \
            of NAME (trees shared), and forgets their declarations; nothing else ever deletes it. \
            Refused with 75 while anything runs from a tree of NAME (or a process cannot be \
            inspected). Links to it in trees still installed are left dangling (trees doctor \
            reports them).
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The tree to delete (with --purge-shared: the code base).", valueName: "NAME@REV|NAME")) var tree: String
    @Flag(help: "Delete ROOT/NAME/shared and forget NAME's shared paths (give NAME, not NAME@REV).") var purgeShared = false
    @Flag(help: "Print the result as JSON.") var json = false
    @Flag(help: "Wait until nothing runs from the tree, then delete it.") var wait = false
    @Option(help: ArgumentHelp("With --wait, give up after this long (90, 30s, 5m, 2h, 1d; exit 75).", valueName: "DURATION")) var timeout: DurationArgument?

    func validate() throws {
        if purgeShared && tree.contains("@") { throw ValidationError("--purge-shared takes NAME, not NAME@REV") }
        if purgeShared && (wait || timeout != nil) { throw ValidationError("--wait and --timeout go with NAME@REV only") }
    }

    struct Report: Encodable {
        let removed: String
        let bytes_freed: Int64
    }

    func run() throws {
        if purgeShared { return try purge() }
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
        guard let outcome = try collector.withLock(wait: true, { try collector.remove(ref) }) else { return }
        if json { return try printJSON(Report(removed: ref.description, bytes_freed: outcome.bytesFreed)) }
        printLine("deleted \(ref) (\(formatBytes(outcome.bytesFreed)) freed)")
    }

    private func purge() throws {
        let name = try TreeName(tree)
        let (root, store) = try global.openExisting()
        try root.requireOperator("delete shared paths")
        var scanner = UsageScanner(root: root, store: store)
        scanner.onPrivilegeNotice = WarningOnce().callAsFunction
        let freed = try SharedPaths(root: root, store: store).purge(name, scanner: scanner)
        if json { return try printJSON(Report(removed: root.sharedPath(name), bytes_freed: freed)) }
        printLine("deleted \(root.sharedPath(name)) (\(formatBytes(freed)) freed)")
    }
}
