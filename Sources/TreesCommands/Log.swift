import ArgumentParser
import TreesCore

struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Show the history of installs, activations, rollbacks, pins, refused leases and gc decisions.",
        discussion: """
            Events: installed, activated, rolled-back, pinned, unpinned, marked-good and \
            marked-bad (with who and why), lease-refused, \
            gc-kept (a tree gc wanted to delete but kept, and why: in use, unknown process, \
            a mount inside; written when the reason changes), deleted (with gc's reason), \
            drain-started (with the protocol), signalled (each signal of a drain: signal, pid, \
            start time, evidence), drained, drain-cancelled. \
            Every state change writes its entry in the same transaction. gc prunes entries \
            older than its --keep-history (default 90 days), but keeps the last activation \
            of each tree, which rollback needs.

            \(exitStatusHelp)
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Only this code base.", valueName: "NAME"))
    var name: String?

    @Option(help: ArgumentHelp("Only entries from the last DURATION (90, 30s, 5m, 2h, 1d).", valueName: "DURATION"))
    var since: DurationArgument?

    @Flag(help: "Print the result as JSON.")
    var json = false

    struct Row: Encodable {
        let at: String
        let name: String
        let rev: String
        let event: String
        let previous: String?
        let detail: String?
    }

    func run() throws {
        let filter = try name.map(TreeName.init)
        guard let root = try global.openRoot() else {
            if json { try printJSON([Row]()) }
            return
        }
        let store = try root.openStore(create: true)
        let cutoff = since.map { unixNow() - $0.seconds }
        let rows = try store.history(name: filter, since: cutoff).map {
            Row(at: rfc3339($0.at), name: $0.name, rev: $0.rev, event: $0.event, previous: $0.previous, detail: $0.detail)
        }
        if json { return try printJSON(rows) }
        printTable(["WHEN", "TREE", "EVENT", "DETAIL"], rows.map {
            [$0.at, "\($0.name)@\($0.rev)", $0.event,
             [$0.previous.map { "from \($0)" }, $0.detail].compactMap { $0 }.joined(separator: "; ")]
        })
    }
}
