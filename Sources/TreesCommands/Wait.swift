import ArgumentParser
import TreesCore

struct Wait: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait until nothing runs from a tree.",
        discussion: """
            Returns 0 once no live lease and no /proc evidence remain. DURATION is 90, 30s, \
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
        let waiter = Waiter(scanner: UsageScanner(root: root, store: store))
        let result = try waiter.wait(for: ref, timeout: timeout?.interval)
        if result.done { return }
        var lines = ["timed out waiting for \(ref); still running from it:"]
        for h in result.report.holders(of: ref) {
            lines.append("  pid \(h.pid) (\(h.evidence.sorted().map(\.rawValue).joined(separator: ","))): \(h.command)")
        }
        for u in result.report.unknown {
            lines.append("  pid \(u.pid) could not be inspected (\(u.reason)): \(u.command)")
        }
        lines[0] = "trees: " + lines[0]
        printErrorLines(lines)
        throw CommandFailure(status: 75)
    }
}
