import ArgumentParser
import TreesCore

struct Activate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activate",
        abstract: "Make an installed revision current, optionally checking it.",
        discussion: """
            Points ROOT/NAME/current at REV with one rename(2) of a fresh relative symlink.

            With --check CMD, CMD then runs from the new tree (/bin/sh -c CMD, by `trees exec \
            NAME@REV`, so under a lease, with TREES_* set and the tree as its working \
            directory). Exit 0 within --within marks the release good. Anything else (an exit \
            status, a signal, or still running at the deadline: its process group is sent TERM, \
            then KILL 5 s later) marks it bad and moves current back, in one rename, to the last \
            good revision (with none, to the one current before, if it is not bad); exit 65. \
            The check's output goes to stderr with --json.

            A revision marked bad is activated only with --force (65 otherwise).

            \(exitStatusHelp)
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The tree to make current.", valueName: "NAME@REV"))
    var tree: String

    @Option(help: ArgumentHelp("After the switch, run this shell command from the new tree; its exit status judges the release.", valueName: "CMD"))
    var check: String?

    @Option(help: ArgumentHelp("How long the check may run (90, 30s, 5m, 2h, 1d).", valueName: "DURATION"))
    var within = DurationArgument(seconds: 600, spelled: "10m")

    @Flag(help: "Activate a revision marked bad.")
    var force = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        if check?.isEmpty == true { throw ValidationError("--check needs a command") }
        if within.seconds <= 0 { throw ValidationError("--within must be more than 0") }
    }

    struct Output: Encodable {
        struct Check: Encodable {
            let command: String
            let result: String
            let reason: String?
        }
        let tree: String
        let path: String
        let previous: String?
        let current: String
        let verdict: String
        let check: Check?
        let returned_to: String?
    }

    func run() throws {
        let ref = try TreeRef(parsing: tree)
        let (root, store) = try global.openExisting()
        let activation = Activation(root: root, store: store)
        guard let command = check else {
            let previous = try activation.activate(ref, force: force)
            global.refreshMetrics()
            if json {
                let verdict = try store.tree(ref)?.verdict.verdict ?? .unverified
                return try printJSON(Output(tree: ref.description, path: root.treePath(ref), previous: previous?.value,
                                            current: ref.description, verdict: verdict.rawValue, check: nil, returned_to: nil))
            }
            return printLine(root.treePath(ref))
        }
        let checked = try activation.activate(ref, force: force, command: command, by: invokingUser()) { ref in
            try runCheck(command, on: ref, root: root)
        }
        global.refreshMetrics()
        let reason: String? = if case .failed(let why) = checked.result { why } else { nil }
        if json {
            try printJSON(Output(
                tree: ref.description, path: root.treePath(ref), previous: checked.previous?.value,
                current: (checked.returnedTo ?? ref).description, verdict: reason == nil ? "good" : "bad",
                check: .init(command: command, result: reason == nil ? "passed" : "failed", reason: reason),
                returned_to: checked.returnedTo?.description))
        } else if reason == nil {
            printLine(root.treePath(ref))
        }
        guard let reason else { return }
        let whereNow = checked.returnedTo.map { "current is back at \($0)" }
            ?? "current was not moved back (no good or earlier revision to go to, or it moved meanwhile)"
        throw TreesError(.badInput, "the check of \(ref) failed (\(reason)); it is marked bad and \(whereNow)",
                         hint: "See the check's output above; trees history \(ref.name) shows the release's life.")
    }

    /// Runs the check as `trees exec NAME@REV -- /bin/sh -c CMD`: this very
    /// binary, so the check holds a lease and sees the environment a job does.
    private func runCheck(_ command: String, on ref: TreeRef, root: Root) throws -> Activation.CheckResult {
        let trees = (try? selfExecutable()) ?? CommandLine.arguments[0]
        let end = try spawnAndWait([trees, "exec", "--root", root.path, ref.description, "--", "/bin/sh", "-c", command],
                                   stdout: json ? .standardError : .inherit, deadline: within.interval)
        switch end {
        case .exited(0): return .passed
        case .exited(let status) where status > 128: return .failed("killed by signal \(status - 128)")
        case .exited(let status): return .failed("exited with status \(status)")
        case .timedOut: return .failed("still running after \(within.defaultValueDescription)")
        }
    }
}
