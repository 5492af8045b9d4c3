import ArgumentParser
import TreesCore

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Report every disagreement between the state database and the disk; repair what is safe.",
        discussion: """
            Finds tree rows without a directory, trees on disk without a row, trees stuck \
            installing, condemned or deleting, interrupted activations, a current link that \
            points at no ready tree, missing manifests, staging and trash leftovers, and a \
            state database that is missing, empty or foreign while trees are installed.

            With --repair: half-steps of killed commands are finished or undone, trees the \
            database forgot are digested and recorded ready, rows whose directory is gone are \
            marked deleted, and a missing, empty or foreign database is moved aside and rebuilt \
            from the trees on disk. Nothing at ROOT/NAME/REV is ever deleted; a damaged \
            database is reported, never overwritten.

            Exit status: 0 when database and disk agree (with --repair: once every finding \
            was repaired); 65 when disagreements remain; 1 on failure.
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Fix what is safe to fix, then report what remains.")
    var repair = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    struct Report: Encodable {
        let root: String
        let clean: Bool
        let findings: [Finding]
    }

    func run() throws {
        guard let root = try global.openRoot() else {
            if json { try printJSON(Report(root: global.location, clean: true, findings: [])) } else { printLine("no trees root at \(global.location)") }
            return
        }
        let findings = try TreesCore.Doctor(root: root).run(repair: repair)
        let clean = findings.allSatisfy(\.repaired)
        if json {
            try printJSON(Report(root: root.path, clean: clean, findings: findings))
        } else if findings.isEmpty {
            printLine("\(root.path): database and disk agree")
        } else {
            printTable(["KIND", "SUBJECT", repair ? "REPAIRED" : "", "DETAIL"].filter { !$0.isEmpty }, findings.map {
                repair ? [$0.kind.rawValue, $0.subject, $0.repaired ? "yes" : "no", $0.message]
                       : [$0.kind.rawValue, $0.subject, $0.message]
            })
        }
        if !clean { throw CommandFailure(status: 65) }
    }
}
