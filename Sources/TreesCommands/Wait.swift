import ArgumentParser
import TreesCore

struct Wait: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait until nothing runs from a tree.",
        discussion: """
            Returns 0 once no live lease and no /proc evidence remain, and no process that \
            could not be inspected (without CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH, other \
            users' processes cannot be, and wait says so once). DURATION is 90, 30s, \
            5m, 2h or 1d; on timeout exits 75 and prints who is still there.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The tree to wait for.", valueName: "NAME@REV"))
    var tree: String

    @Option(help: ArgumentHelp("Give up after this long (90, 30s, 5m, 2h, 1d; exit 75).", valueName: "DURATION"))
    var timeout: DurationArgument?

    func run() throws {
        let ref = try TreeRef(parsing: tree)
        let (root, store) = try global.openExisting(forReading: true)
        guard try store.tree(ref) != nil else { throw TreesError(.notFound, "no tree \(ref)") }
        var scanner = UsageScanner(root: root, store: store)
        scanner.onPrivilegeNotice = WarningOnce().callAsFunction
        let result = try Waiter(scanner: scanner).wait(for: ref, timeout: timeout?.interval)
        if result.done { return }
        var lines = ["timed out waiting for \(ref); still running from it:"]
        for h in result.report.holders(of: ref) {
            lines.append("  \(h.who) (\(h.evidence.sorted().map(\.rawValue).joined(separator: ","))): \(h.command)")
        }
        for u in result.report.unknownListed {
            lines.append("  pid \(u.pid) could not be inspected (\(u.reason)): \(u.command)")
        }
        let others = result.report.othersUninspectable.count
        if others > 0 { lines.append("  \(others) processes of other users could not be inspected (see the warning above)") }
        lines[0] = "trees: " + lines[0]
        printErrorLines(lines)
        throw CommandFailure(status: 75)
    }
}
