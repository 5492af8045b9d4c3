import ArgumentParser
import TreesCore

struct Ps: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ps",
        abstract: "Show every process running from a tree, and why.",
        discussion: """
            Evidence kinds: lease, exe, cwd, root, fd, maps, environ, cmdline, cgroup. \
            Processes that could not be inspected (permission denied, hidepid) are listed \
            separately as unknown: gc and wait treat them as possibly using any tree. Other \
            users' processes, which a user without CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH \
            cannot inspect, are counted in one line (pid 0 in --json) instead.

            --stale lists only what runs from a tree that is not the current revision of \
            its code base (old workers a rollout left behind, orphans reparented to init \
            included: /proc evidence finds them however they were started), each with the \
            revision that is current instead.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Only this code base or tree.", valueName: "NAME[@REV]"))
    var tree: String?

    @Flag(help: "Only processes on a tree that is not the current revision of its code base.")
    var stale = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    struct ProcessRow: Encodable {
        let pid: Int32
        let tree: TreeJSON
        let evidence: [String]
        let command: String
        let started_at: String?
        let lease: String?
        /// File evidence placed by the path's spelling alone (no identity from the kernel); absent when none.
        let by_spelling: [String]?
        /// Whether the tree is the current revision of its code base.
        let current: Bool
        /// The current revision of the code base, when it is another (absent when none is current).
        let current_rev: String?
    }

    struct UnknownRow: Encodable {
        let pid: Int32
        let command: String
        let reason: String
        /// True when TREES_IGNORE_UNKNOWN_PIDS lists it: it does not hold trees.
        let ignored: Bool
    }

    struct Output: Encodable {
        let processes: [ProcessRow]
        let unknown: [UnknownRow]
    }

    func run() throws {
        let selector = try tree.map(TreeSelector.init(parsing:))
        guard let root = try global.openRoot() else {
            throw TreesError(.notFound, "no trees root at \(global.location)")
        }
        let store = try? root.openStoreForReading()
        let scanner = UsageScanner(root: root, store: store)
        let report = try scanner.scan()
        var currentRevs: [TreeName: Rev?] = [:]
        func currentRev(_ name: TreeName) -> Rev? {
            if let known = currentRevs[name] { return known }
            let rev = try? root.currentRev(of: name)
            currentRevs[name] = .some(rev)
            return rev
        }
        let holders = report.holders.filter { h in
            if stale && currentRev(h.tree.name) == h.tree.rev { return false }
            guard let selector else { return true }
            return h.tree.name == selector.name && (selector.rev == nil || selector.rev == h.tree.rev)
        }
        // btime once for every row, not one read of /proc/stat per row.
        let clock = scanner.probe.bootClock()
        let output = Output(
            processes: holders.map {
                ProcessRow(pid: $0.pid, tree: TreeJSON($0.tree), evidence: $0.evidence.sorted().map(\.rawValue),
                           command: $0.command,
                           started_at: $0.isKernelHold ? nil : clock.map { [t = $0.startTime] in rfc3339($0.startedAt(t)) },
                           lease: $0.leaseID,
                           by_spelling: $0.bySpelling.isEmpty ? nil : $0.bySpelling.sorted().map(\.rawValue),
                           current: currentRev($0.tree.name) == $0.tree.rev,
                           current_rev: currentRev($0.tree.name).flatMap { [rev = $0.tree.rev] in $0 == rev ? nil : $0.value })
            },
            unknown: report.unknownListed.map { UnknownRow(pid: $0.pid, command: $0.command, reason: $0.reason, ignored: false) }
                + (report.privilegeNotice.map { [UnknownRow(pid: 0, command: "", reason: $0, ignored: false)] } ?? [])
                + report.ignoredUnknown.map { UnknownRow(pid: $0.pid, command: $0.command, reason: $0.reason, ignored: true) })
        if json { return try printJSON(output) }
        printTable(["PID", "TREE", "EVIDENCE", "STARTED", "COMMAND"], output.processes.map {
            // A tree held by the kernel (pid 0 in JSON) has no process to show.
            [$0.pid == 0 ? "-" : String($0.pid),
             "\($0.tree.name)@\($0.tree.rev)" + (stale ? " (not current" + ($0.current_rev.map { "; current is \($0)" } ?? "") + ")" : ""),
             $0.evidence.joined(separator: ","),
             $0.started_at ?? "-", $0.command]
        })
        // Other users' processes, counted in one line of their own under the table.
        let listed = output.unknown.filter { $0.pid != 0 || $0.reason != report.privilegeNotice }
        if !output.unknown.isEmpty {
            printLine("")
            printLine("unknown (could not be inspected; gc keeps what they might use):")
        }
        if !listed.isEmpty {
            printTable(["PID", "REASON", "COMMAND"], listed.map {
                [String($0.pid), $0.reason + ($0.ignored ? " (ignored: TREES_IGNORE_UNKNOWN_PIDS)" : ""), $0.command]
            })
        }
        if let notice = report.privilegeNotice { printLine(notice) }
    }
}
