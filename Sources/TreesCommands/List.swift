import ArgumentParser
import TreesCore

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List installed trees.",
        discussion: "\(exitStatusHelp)")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Only this code base.", valueName: "NAME"))
    var name: String?

    @Flag(help: "Include deleted trees, with when and why they were deleted.")
    var all = false

    @Flag(help: "Also count every process running from each tree, by one pass over /proc (slower on busy hosts).")
    var jobs = false

    @Flag(help: "Also split each tree's bytes into its own (what deleting it frees) and those shared with another tree by deduplicated installs, by one stat per file (slower on large trees).")
    var usage = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    struct Row: Encodable {
        let name: String
        let rev: String
        let path: String
        let state: String
        let current: Bool
        let pinned: Bool
        /// unverified, good or bad (`trees mark`, `activate --check`, `rollback`).
        let verdict: String
        /// `draining` while `trees drain` tells its processes to finish,
        /// `drained` once none ran (it still takes no lease); absent otherwise.
        let drain: String?
        let installed_at: String?
        let bytes: Int64
        /// Bytes of files no other tree links (what deleting it frees) and
        /// of files shared with another tree by a deduplicated install, from
        /// the disk: only with --usage (nil when the tree is not on it).
        let own_bytes: Int64?
        let shared_bytes: Int64?
        let files: Int64
        let digest: String?
        /// Live leases on the tree: from the database alone, always shown.
        let leases: Int
        /// Every process running from the tree (leases and /proc): only with --jobs.
        let jobs: Int?
        // Only with --all, for deleted trees (nil values are left out of the JSON).
        var deleted_at: String? = nil
        var delete_reason: String? = nil
        var bytes_freed: Int64? = nil
    }

    func run() throws {
        let filter = try name.map(TreeName.init)
        guard let root = try global.openRoot() else {
            if json { try printJSON([Row]()) }
            return
        }
        let store = try root.openStoreForReading(create: true)
        // Without --jobs the list reads the database only, so it stays fast on
        // a host with thousands of processes; --jobs adds one /proc pass for
        // all trees (unreadable leases or /proc only lower the count shown).
        let leases = try Leases(root: root, store: store).liveCountsByTree()
        let scanned = jobs ? (try? UsageScanner(root: root, store: store).scan().jobsByTree) ?? [:] : nil
        var drains: [TreeRef: String] = [:]
        for ref in try store.drains() {
            drains[ref] = try store.drain(of: ref)?.finishedAt == nil ? "draining" : "drained"
        }
        var currents: [TreeName: Rev?] = [:]
        var rows: [Row] = []
        for tree in try store.trees(name: filter, includeDeleted: all) {
            if currents[tree.ref.name] == nil {
                currents[tree.ref.name] = try root.currentRev(of: tree.ref.name)
            }
            let usage = !self.usage || tree.state == .deleted ? nil : try root.usage(of: tree.ref)
            rows.append(Row(
                name: tree.ref.name.value, rev: tree.ref.rev.value, path: root.treePath(tree.ref),
                state: tree.state.rawValue, current: tree.state != .deleted && currents[tree.ref.name]! == tree.ref.rev,
                pinned: tree.pinned, verdict: tree.verdict.verdict.rawValue, drain: tree.state == .deleted ? nil : drains[tree.ref], installed_at: tree.installedAt.map(rfc3339),
                bytes: tree.bytes, own_bytes: usage?.ownBytes, shared_bytes: usage?.sharedBytes, files: tree.files, digest: tree.digest,
                leases: leases[tree.id] ?? 0, jobs: scanned.map { $0[tree.ref] ?? 0 },
                deleted_at: tree.deletedAt.map(rfc3339), delete_reason: tree.state == .deleted ? tree.deleteReason : nil,
                bytes_freed: tree.state == .deleted ? tree.bytesFreed : nil))
        }
        if json {
            try printJSON(rows)
            return
        }
        var header = ["TREE", "STATE", "CURRENT", "PINNED", "VERDICT", jobs ? "JOBS" : "LEASES", "INSTALLED", "SIZE", "FILES"]
        if usage { header.insert("SHARED", at: 8) }
        if all { header.append("DELETED") }
        printTable(header, rows.map { row in
            var cells = ["\(row.name)@\(row.rev)", row.state + (row.drain.map { " (\($0))" } ?? ""), row.current ? "*" : "", row.pinned ? "pinned" : "",
                         row.verdict, String(row.jobs ?? row.leases), row.installed_at ?? "-", formatBytes(row.bytes), String(row.files)]
            if usage { cells.insert(row.shared_bytes.map(formatBytes) ?? "-", at: 8) }
            if all, let at = row.deleted_at {
                cells.append("\(at) \(row.delete_reason ?? "") (\(formatBytes(row.bytes_freed ?? 0)) freed)")
            }
            return cells
        })
    }
}
