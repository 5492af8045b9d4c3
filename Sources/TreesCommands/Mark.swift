import ArgumentParser
import TreesCore

extension Verdict: ExpressibleByArgument {}

struct Mark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mark",
        abstract: "Judge a release good or bad, with a reason.",
        discussion: """
            The verdict is kept beside the tree's state, with who gave it, when and why \
            (trees list, status, history, metrics). rollback skips bad revisions and \
            activate refuses them without --force; gc keeps the newest good one (--keep-good) \
            and does not count bad ones against --keep. A verdict can change (good to bad, bad \
            to good), never back to unverified. The operator only.

            Exit status: 66 no such installed tree; 64 a verdict other than good or bad; 1 not the operator.

            \(exitStatusHelp)
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The release to judge.", valueName: "NAME@REV"))
    var tree: String

    @Argument(help: ArgumentHelp("good or bad.", valueName: "VERDICT"))
    var verdict: Verdict

    @Option(help: ArgumentHelp("Why, for the record (shown by history and log).", valueName: "TEXT"))
    var reason: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        if verdict == .unverified { throw ValidationError("a release is marked good or bad, not unverified") }
        if let reason, reason.utf8.count > 4096 || reason.contains("\0") {
            throw ValidationError("--reason must be at most 4096 bytes, without NUL")
        }
    }

    struct Output: Encodable {
        let tree: String
        let verdict: String
        let by: String
        let at: String
        let reason: String?
    }

    func run() throws {
        let ref = try TreeRef(parsing: tree)
        let (root, store) = try global.openExisting()
        try root.requireOperator("mark a release")
        let who = invokingUser()
        try Activation(root: root, store: store).mark(ref, verdict, by: who, reason: reason)
        global.refreshMetrics()
        let row = try store.tree(ref)
        if json {
            return try printJSON(Output(tree: ref.description, verdict: verdict.rawValue, by: who,
                                        at: rfc3339(row?.verdict.at ?? unixNow()), reason: reason))
        }
        printLine("\(ref) \(verdict.rawValue)")
    }
}
