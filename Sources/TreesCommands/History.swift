import ArgumentParser
import TreesCore

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Show each release's life: installed, activated, verdict, drained, deleted.",
        discussion: """
            One row per revision of NAME ever installed (deleted ones included), oldest \
            install first: when it was installed and last activated (and how many times), \
            its verdict with who and why, when its drain ended, when and why it was deleted. \
            --json adds every history entry of each release. Entries older than gc's \
            --keep-history are pruned; the rows stay.

            \(exitStatusHelp)
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The code base.", valueName: "NAME"))
    var name: String

    @Flag(help: "Print the result as JSON.")
    var json = false

    struct Row: Encodable {
        struct Verdict: Encodable {
            let verdict: String
            let by: String?
            let at: String?
            let reason: String?
        }
        struct Event: Encodable {
            let at: String
            let event: String
            let previous: String?
            let detail: String?
        }
        let rev: String
        let state: String
        let current: Bool
        let installed_at: String?
        let activated_at: [String]
        let verdict: Verdict
        let drained_at: String?
        let deleted_at: String?
        let delete_reason: String?
        let events: [Event]
    }

    func run() throws {
        let name = try TreeName(self.name)
        guard let root = try global.openRoot() else {
            if json { try printJSON([Row]()) }
            return
        }
        let store = try root.openStoreForReading(create: true)
        let current = try root.currentRev(of: name)
        let rows = try Activation(root: root, store: store).releaseHistory(name).map { life in
            let tree = life.tree
            return Row(
                rev: tree.ref.rev.value, state: tree.state.rawValue,
                current: tree.state != .deleted && tree.ref.rev == current,
                installed_at: tree.installedAt.map(rfc3339), activated_at: life.activations.map(rfc3339),
                verdict: .init(verdict: tree.verdict.verdict.rawValue, by: tree.verdict.by,
                               at: tree.verdict.at.map(rfc3339), reason: tree.verdict.reason),
                drained_at: life.drainedAt.map(rfc3339),
                deleted_at: tree.state == .deleted ? tree.deletedAt.map(rfc3339) : nil,
                delete_reason: tree.state == .deleted ? tree.deleteReason : nil,
                events: life.events.map { .init(at: rfc3339($0.at), event: $0.event, previous: $0.previous, detail: $0.detail) })
        }
        if rows.isEmpty && !json {
            throw TreesError(.notFound, "\(name) was never installed under \(root.path)")
        }
        if json { return try printJSON(rows) }
        printTable(["REV", "STATE", "INSTALLED", "ACTIVATED", "VERDICT", "DRAINED", "DELETED"], rows.map { row in
            let activated = row.activated_at.last.map { row.activated_at.count > 1 ? "\($0) (\(row.activated_at.count)×)" : $0 } ?? "-"
            let verdict = row.verdict.verdict == "unverified" ? "unverified"
                : [row.verdict.verdict, row.verdict.by.map { "by \($0)" }, row.verdict.reason.map { "(\($0))" }]
                    .compactMap { $0 }.joined(separator: " ")
            return [row.rev + (row.current ? " *" : ""), row.state, row.installed_at ?? "-", activated, verdict,
                    row.drained_at ?? "-", row.deleted_at.map { t in row.delete_reason.map { "\(t) (\($0))" } ?? t } ?? "-"]
        })
    }
}
