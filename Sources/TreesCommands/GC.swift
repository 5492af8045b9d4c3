import ArgumentParser
import TreesCore

struct GC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Delete old trees that nothing runs from any more.",
        discussion: """
            A tree is deleted only when it is not current, not pinned, not among the \
            --keep-good newest good trees of its name, nor among the --keep most recently \
            installed other trees that are not marked bad, out of current (or installed) \
            for at least --min-age, and no process runs from it by lease or by /proc \
            evidence. A job holding a tree's lease lock keeps it. A process that cannot be \
            inspected keeps every candidate; run by an operator who is not root, gc needs \
            CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH to inspect other users' processes, and \
            says once when it lacks them. Prints what was deleted and what was kept and \
            why. --dry-run writes nothing. The operator only. Exit status: 0 whether or not \
            something was kept; 75 when another gc holds the lock and --wait-lock was not \
            given, or held it longer than TREES_LOCK_TIMEOUT; 1 not the operator.
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Decide the same, but change nothing.")
    var dryRun = false

    @Option(help: ArgumentHelp("Keep this many most recently installed non-current trees of each name.", valueName: "N"))
    var keep: Int = 2

    @Option(help: ArgumentHelp("Keep this many newest good non-current trees of each name, beside --keep.", valueName: "N"))
    var keepGood: Int = 1

    @Option(help: ArgumentHelp("Keep trees out of current for less than this (90, 30s, 5m, 2h, 1d).", valueName: "DURATION"))
    var minAge = DurationArgument(seconds: 300, spelled: "5m")

    @Flag(help: "Wait for another running gc (at most TREES_LOCK_TIMEOUT) instead of exiting 75.")
    var waitLock = false

    @Option(help: ArgumentHelp("Prune history (trees log) older than this (90, 30s, 5m, 2h, 1d).", valueName: "DURATION"))
    var keepHistory = DurationArgument(seconds: 90 * 86_400, spelled: "90d")

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        if keep < 0 { throw ValidationError("--keep must be 0 or more") }
        if keepGood < 0 { throw ValidationError("--keep-good must be 0 or more") }
    }

    struct Row: Encodable {
        let name: String
        let rev: String
        let action: String
        let reason: String
        let pids: [Int32]
        let bytes_freed: Int64
    }

    func run() throws {
        guard let root = try global.openRoot() else {
            if json { try printJSON([Row]()) } else { printLine("nothing installed under \(global.location)") }
            return
        }
        try root.requireOperator("collect trees")
        for problem in root.permissionProblems() { printWarning(problem) }
        let store = try root.openStore(create: true)
        var collector = Collector(root: root, store: store)
        collector.scanner.onPrivilegeNotice = WarningOnce().callAsFunction
        let progress = global.progress()
        collector.progress = progress.handler
        let policy = GCPolicy(keep: keep, keepGood: keepGood, minAge: minAge.seconds, historyRetention: keepHistory.seconds)
        guard let outcomes = try collector.withLock(wait: waitLock, {
            defer { progress.finish() }
            return try collector.collect(policy: policy, dryRun: dryRun)
        }) else {
            throw TreesError(.temporary, "another trees gc is running on \(root.path)",
                             hint: "Try again later, or pass --wait-lock to wait for it.")
        }
        global.refreshMetrics()
        let rows = outcomes.map {
            Row(name: $0.tree.name.value, rev: $0.tree.rev.value, action: $0.action.rawValue, reason: $0.reason,
                pids: $0.pids, bytes_freed: $0.bytesFreed)
        }
        if json { return try printJSON(rows) }
        if rows.isEmpty { printLine("no trees"); return }
        printTable(["TREE", "ACTION", "FREED", "WHY"], rows.map {
            ["\($0.name)@\($0.rev)", $0.action, $0.action == "deleted" ? formatBytes($0.bytes_freed) : "-", $0.reason]
        })
    }
}
