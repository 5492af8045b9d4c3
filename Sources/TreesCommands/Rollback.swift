import ArgumentParser
import TreesCore

struct Rollback: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Make an earlier revision current again, and mark the one left bad.",
        discussion: """
            Without --to, goes to the revision that was current before the present one, \
            skipping revisions marked bad and ones no longer installed. The revision left is \
            marked bad (unless --no-mark), in the same step as the switch.

            Exit status: 66 when there is no current revision or nothing to go to; 65 for a \
            --to revision marked bad without --force; 64 for --to naming the current revision.

            \(exitStatusHelp)
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The code base to roll back.", valueName: "NAME"))
    var name: String

    @Option(parsing: .unconditional, help: ArgumentHelp("Where to go: last-good (the good revision most recently current), a REV, or -N (N steps back, skipping bad ones).", valueName: "TARGET"))
    var to: String?

    @Flag(help: "Do not mark the revision left bad.")
    var noMark = false

    @Flag(help: "Go to a revision marked bad (with --to REV).")
    var force = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    struct Output: Encodable {
        let name: String
        let from: String
        let to: String
        let path: String
        let marked_bad: Bool
    }

    /// `--to`, read: `last-good`, `-N` or a revision.
    static func target(_ text: String?) throws -> Activation.RollbackTarget {
        guard let text else { return .stepsBack(1) }
        if text == "last-good" { return .lastGood }
        if text.hasPrefix("-") {
            guard let steps = Int(text.dropFirst()), steps >= 1, steps <= 10_000 else {
                throw ValidationError("--to \(text): -N needs N from 1 to 10000")
            }
            return .stepsBack(steps)
        }
        do {
            return .rev(try Rev(text))
        } catch {
            throw ValidationError("--to takes last-good, -N or a revision: \(error)")
        }
    }

    func validate() throws { _ = try Self.target(to) }

    func run() throws {
        let name = try TreeName(self.name)
        let (root, store) = try global.openExisting()
        let result = try Activation(root: root, store: store)
            .rollback(name, to: try Self.target(to), mark: !noMark, force: force, by: invokingUser())
        global.refreshMetrics()
        if json {
            return try printJSON(Output(name: name.value, from: result.from.value, to: result.to.rev.value,
                                        path: root.treePath(result.to), marked_bad: result.markedBad))
        }
        printLine(root.treePath(result.to))
    }
}
