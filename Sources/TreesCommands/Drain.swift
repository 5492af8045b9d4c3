#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ArgumentParser
import TreesCore
#if canImport(Glibc)
import Glibc
#endif

struct Drain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain",
        abstract: "Tell every process that runs from a tree to finish, and wait until none does.",
        discussion: """
            Signals only processes with evidence for the tree (a lease, its job cgroup, /proc), \
            never by pidfile or name, each through a pidfd after its identity (start time, \
            pidfs inode) is checked again, so a reused pid is never signalled. A job started \
            with exec --cgroup is signalled as a group, and a KILL step kills its cgroup at \
            once (cgroup.kill). A process that cannot be inspected is listed and never \
            signalled. From the start of the drain the tree takes no new lease (exec and \
            lease acquire exit 75) and cannot become current, until --cancel.

            The protocol is --signal SIG, then --then SIG@DURATION (after the drain began) \
            or SIG@+DURATION (after the step before), e.g. --signal TSTP --then TERM@2h \
            --then KILL@+60s; without --signal, the one the release declared at install \
            (install --drain 'TSTP,TERM@2h'), else TERM at once. KILL only when a step asks \
            for it. Signals: HUP INT QUIT USR1 USR2 TERM TSTP STOP CONT WINCH ALRM PWR TTIN \
            TTOU KILL; each but STOP, TSTP, TTIN, TTOU, CONT and KILL is followed by CONT.

            The schedule (start, steps sent, whom each signalled) is kept in the database: \
            run again after a timeout or a crash, drain resumes it on the same clock and \
            signals nobody twice with one step; while a drain process of the tree is alive, \
            another exits 75. trees log records each signal.

            --json prints one JSON object per line as things happen: began, step, signal \
            (pid, signal, evidence, at), cgroup-kill, skipped, exited, unknown, then a summary.

            EXIT STATUS: 0 drained (nothing runs from the tree); 75 timed out, or only \
            processes that cannot be inspected remain (survivors named), or another drain \
            of the tree is running; 64 usage (the \
            current revision without --include-current, a protocol other than the one of \
            the drain under way); 65 bad protocol; 66 no such tree.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The tree to drain.", valueName: "NAME@REV"))
    var tree: String

    @Option(help: ArgumentHelp("The first step: SIG at once, or SIG@DURATION (default: the release's protocol, else TERM at once).", valueName: "SIG"))
    var signal: String?

    @Option(name: .customLong("then"), help: ArgumentHelp(
        "A later step: SIG@DURATION after the drain began, SIG@+DURATION after the step before (repeatable).", valueName: "SIG@[+]DURATION"))
    var later: [String] = []

    @Option(help: ArgumentHelp("Wait at most this long (90, 30s, 5m, 2h, 1d), then exit 75 naming the survivors; the drain's schedule stays.", valueName: "DURATION"))
    var timeout: DurationArgument?

    @Flag(help: "Drain the tree even if it is the current revision.")
    var includeCurrent = false

    @Flag(help: "End the drain: forget its schedule, accept new leases on the tree again.")
    var cancel = false

    @Flag(help: "Print one JSON object per line per event, then a summary.")
    var json = false

    func validate() throws {
        if signal == nil && !later.isEmpty {
            throw ValidationError("--then needs --signal: the first step is sent at once")
        }
        if cancel && (signal != nil || timeout != nil || includeCurrent) {
            throw ValidationError("--cancel takes no --signal, --then, --timeout or --include-current")
        }
    }

    func run() throws {
        let ref = try TreeRef(parsing: tree)
        let given = try signal.map { try DrainProtocol(signal: $0, then: later) }
        let (root, store) = try global.openExisting()
        try root.requireOperator("drain a tree")
        var scanner = UsageScanner(root: root, store: store)
        scanner.onPrivilegeNotice = WarningOnce().callAsFunction
        let drainer = Drainer(scanner: scanner)
        if cancel {
            let ended = try drainer.cancel(ref)
            if json { return try printJSONLine(CancelLine(event: "cancelled", tree: TreeJSON(ref), was_draining: ended)) }
            return printLine(ended ? "drain of \(ref) cancelled: it takes new leases again" : "\(ref) was not being drained")
        }
        let outcome = try drainer.drain(ref, protocol: given, includeCurrent: includeCurrent, timeout: timeout?.interval) { event in
            if json {
                _ = try? printJSONLine(EventLine(event, tree: ref))
            } else {
                printLine(Drain.text(event, tree: ref))
                fflush(nil) // every stream: stdout itself is not concurrency-safe to name
            }
        }
        let summary = Summary(outcome, tree: ref)
        if json {
            try printJSONLine(summary)
        } else if outcome.drained {
            printLine("\(ref) drained: nothing runs from it")
        }
        if !json && !outcome.kernelHolds.isEmpty {
            // No process to signal: the operator ends these (umount, losetup -d, swapoff).
            printLine("still held by the kernel, which no signal ends: " + outcome.kernelHolds.map(\.command).joined(separator: ", "))
        }
        if outcome.drained { return }
        if !json {
            var lines = ["trees: " + (outcome.survivors.isEmpty ? "\(ref) is not known to be drained; processes that cannot be inspected remain (never signalled):"
                                                               : "timed out draining \(ref); still running from it:")]
            for h in outcome.survivors {
                lines.append("  pid \(h.pid) (\(h.evidence.sorted().map(\.rawValue).joined(separator: ","))): \(h.command)")
            }
            for u in outcome.unknown { lines.append("  pid \(u.pid) could not be inspected (\(u.reason)), not signalled: \(u.command)") }
            if let notice = outcome.privilegeNotice { lines.append("  " + notice) }
            lines.append("trees: hint: run the same drain again to resume its schedule; trees drain --cancel \(ref) ends it")
            printErrorLines(lines)
        }
        throw CommandFailure(status: 75)
    }

    /// One line a person reads per event.
    static func text(_ event: DrainEvent, tree: TreeRef) -> String {
        switch event {
        case .began(let record, let resumed):
            return resumed ? "resuming the drain of \(tree) begun \(rfc3339(record.startedAt)) (\(record.protocolText); \(record.sentAt.count) steps sent)"
                           : "draining \(tree): \(record.protocolText)"
        case .step(let index, let signal, _):
            return "step \(index + 1): \(signal.name)"
        case .signalled(let pid, let signal, let evidence, let command, let cgroup, _):
            let why = cgroup.map { "cgroup \($0)" } ?? evidence.map(\.rawValue).joined(separator: ",")
            return "\(signal.name) to pid \(pid) (\(why))\(command.isEmpty ? "" : ": " + command)"
        case .cgroupKilled(let cgroup, _):
            return "KILL to cgroup \(cgroup) (cgroup.kill)"
        case .skipped(let pid, let reason):
            return "pid \(pid) not signalled: \(reason)"
        case .exited(let pid, _, let left):
            return left ? "pid \(pid) no longer runs from \(tree)" : "pid \(pid) exited"
        case .unknown(let process):
            return "pid \(process.pid) cannot be inspected (\(process.reason)); it is never signalled: \(process.command)"
        }
    }

    struct EventLine: Encodable {
        var event: String
        var tree: TreeJSON
        var pid: Int32?
        var signal: String?
        var evidence: [String]?
        var command: String?
        var cgroup: String?
        var reason: String?
        var step: Int?
        var at: String?
        var started_at: String?
        var `protocol`: String?
        var resumed: Bool?

        init(_ event: DrainEvent, tree ref: TreeRef) {
            tree = TreeJSON(ref)
            switch event {
            case .began(let record, let resumed):
                self.event = "began"
                started_at = rfc3339(record.startedAt)
                self.protocol = record.protocolText
                self.resumed = resumed
            case .step(let index, let signal, let at):
                self.event = "step"
                step = index + 1
                self.signal = signal.name
                self.at = rfc3339(at)
            case .signalled(let pid, let signal, let evidence, let command, let cgroup, let at):
                self.event = "signal"
                self.pid = pid
                self.signal = signal.name
                self.evidence = evidence.map(\.rawValue)
                self.command = command
                self.cgroup = cgroup
                self.at = rfc3339(at)
            case .cgroupKilled(let cgroup, let at):
                self.event = "cgroup-kill"
                signal = "KILL"
                self.cgroup = cgroup
                self.at = rfc3339(at)
            case .skipped(let pid, let reason):
                self.event = "skipped"
                self.pid = pid
                self.reason = reason
            case .exited(let pid, let at, let left):
                self.event = left ? "left" : "exited"
                self.pid = pid
                self.at = rfc3339(at)
            case .unknown(let process):
                self.event = "unknown"
                pid = process.pid
                command = process.command
                reason = process.reason
            }
        }
    }

    struct Process: Encodable {
        let pid: Int32
        let evidence: [String]
        let command: String
        var reason: String? = nil
    }

    struct Summary: Encodable {
        let event = "summary"
        let tree: TreeJSON
        let drained: Bool
        let `protocol`: String
        let started_at: String
        let finished_at: String?
        let steps_sent: Int
        let survivors: [Process]
        let unknown: [Process]
        let kernel_holds: [Process]

        init(_ outcome: DrainOutcome, tree ref: TreeRef) {
            tree = TreeJSON(ref)
            drained = outcome.drained
            self.protocol = outcome.record.protocolText
            started_at = rfc3339(outcome.record.startedAt)
            finished_at = outcome.record.finishedAt.map(rfc3339)
            steps_sent = outcome.record.sentAt.count
            survivors = outcome.survivors.map { Process(pid: $0.pid, evidence: $0.evidence.sorted().map(\.rawValue), command: $0.command) }
            unknown = outcome.unknown.map { Process(pid: $0.pid, evidence: [], command: $0.command, reason: $0.reason) }
                + (outcome.privilegeNotice.map { [Process(pid: 0, evidence: [], command: "", reason: $0)] } ?? [])
            kernel_holds = outcome.kernelHolds.map { Process(pid: 0, evidence: $0.evidence.sorted().map(\.rawValue), command: $0.command) }
        }
    }

    struct CancelLine: Encodable {
        let event: String
        let tree: TreeJSON
        let was_draining: Bool
    }
}

/// Prints `value` as one line of JSON and flushes it, for commands that
/// stream events (a reader sees each as it happens, even if trees is killed).
func printJSONLine<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
    fflush(nil) // every stream: stdout itself is not concurrency-safe to name
}
