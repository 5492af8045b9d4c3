import ArgumentParser
import TreesCore

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show where the rollout of each name stands on this host.",
        discussion: """
            Per name: the current revision, every other installed revision with its state \
            and job count, whether the name has converged (a current revision, no job on \
            any other, and no process that could not be inspected), and the oldest job \
            still running from an old revision. Across a fleet, ask Prometheus the same \
            question (see trees metrics).

            \(exitStatusHelp)
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Only this code base.", valueName: "NAME"))
    var name: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    struct RevRow: Encodable {
        let rev: String
        let state: String
        let pinned: Bool
        let verdict: String
        let jobs: Int
    }

    struct JobRow: Encodable {
        let pid: Int32
        let rev: String
        let command: String
        let started_at: String?
    }

    struct Row: Encodable {
        let name: String
        let current: String?
        let current_verdict: String?
        let converged: Bool
        let jobs_on_current: Int
        let others: [RevRow]
        let oldest_old_job: JobRow?
        let unknown_processes: Int
    }

    func run() throws {
        let filter = try name.map(TreeName.init)
        let root = try global.openRoot()
        let store = try root.map { try $0.openStore(create: true) }
        let snapshot = try HostSnapshot.take(location: global.location, root: root, store: store, scanner: nil)
        let statuses = RolloutStatus.of(snapshot, name: filter)
        if let filter, statuses.isEmpty {
            throw TreesError(.notFound, "no trees of \(filter) under \(global.location)")
        }
        let rows = statuses.map { s in
            Row(name: s.name.value, current: s.current?.value, current_verdict: s.currentVerdict?.rawValue, converged: s.converged, jobs_on_current: s.jobsOnCurrent,
                others: s.others.map { RevRow(rev: $0.rev.value, state: $0.state.rawValue, pinned: $0.pinned, verdict: $0.verdict.rawValue, jobs: $0.jobs) },
                oldest_old_job: s.oldestOldJob.map {
                    JobRow(pid: $0.pid, rev: $0.rev.value, command: $0.command, started_at: $0.startedAt.map(rfc3339))
                },
                unknown_processes: s.unknownProcesses)
        }
        if json { return try printJSON(rows) }
        if rows.isEmpty { printLine("no trees under \(global.location)"); return }
        for row in rows {
            printLine("\(row.name): current \(row.current ?? "none")\(verdictNote(row.current_verdict, " (")) (\(row.jobs_on_current) jobs), \(row.converged ? "converged" : "not converged")")
            for other in row.others {
                printLine("  \(other.rev)  \(other.state)\(other.pinned ? ", pinned" : "")\(verdictNote(other.verdict, ", "))  \(other.jobs) jobs")
            }
            if let job = row.oldest_old_job {
                printLine("  oldest job on an old rev: pid \(job.pid) on \(job.rev) since \(job.started_at ?? "?"): \(job.command)")
            }
            if row.unknown_processes > 0 {
                printLine("  \(row.unknown_processes) processes could not be inspected (see trees ps)")
            }
        }
    }
}

/// A verdict worth showing beside a revision (not "unverified"), after `lead`.
private func verdictNote(_ verdict: String?, _ lead: String) -> String {
    guard let verdict, verdict != "unverified" else { return "" }
    return lead + verdict + (lead.hasSuffix("(") ? ")" : "")
}
