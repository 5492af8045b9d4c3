import ArgumentParser
import TreesCore
#if canImport(Glibc)
import Glibc
#endif

struct LeaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lease",
        abstract: "Take, release and list leases (for supervisors that start jobs themselves).",
        subcommands: [Acquire.self, Release.self, ListLeases.self])

    struct Acquire: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "acquire",
            abstract: "Take a lease on a tree for a process and print its id (the operator only).",
            discussion: """
                For supervisors that start jobs themselves. The lease is a database record \
                judged by the process's identity (boot id, pid, start time); it holds no lock. \
                Only the operator (the owner of ROOT/.trees) or root may take one. \
                Exit status: 66 no such tree or process; 75 tree not ready; 1 not the operator.
                """)

        @OptionGroup var global: GlobalOptions

        @Argument(help: ArgumentHelp("The code base (its current revision) or one tree.", valueName: "NAME[@REV]"))
        var tree: String

        @Option(help: ArgumentHelp("The process that runs from the tree (default: the caller's parent, e.g. the shell); a process id, not a thread id.", valueName: "PID"))
        var pid: Int32?

        func run() throws {
            let selector = try TreeSelector(parsing: tree)
            let (root, store) = try global.openExisting()
            try root.requireOperator("take a lease for another process")
            let lease = try Leases(root: root, store: store).acquire(selector, pid: pid ?? getppid())
            printLine(lease.id)
        }
    }

    struct Release: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "release",
            abstract: "Release a lease (the operator only).",
            discussion: """
                Deletes a lease record. A job started by trees exec also holds its tree by a lock \
                that only its own exit ends, so releasing its record never lets gc delete its \
                tree. Exit status: 66 no such lease; 1 not the operator.
                """)

        @OptionGroup var global: GlobalOptions

        @Argument(help: ArgumentHelp("The lease id that acquire printed.", valueName: "ID"))
        var id: String

        func run() throws {
            let (root, store) = try global.openExisting()
            try root.requireOperator("release a lease")
            try Leases(root: root, store: store).release(id)
        }
    }

    struct ListLeases: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List leases and whether each process still lives.")

        @OptionGroup var global: GlobalOptions

        @Flag(help: "Print the result as JSON.")
        var json = false

        struct Row: Encodable {
            let id: String
            let tree: TreeJSON
            let pid: Int32
            let liveness: String
            let live: Bool
            let acquired_at: String
            let command: String?
            /// The job's cgroup (`trees exec --cgroup`), relative to the cgroup v2 mount.
            let cgroup: String?
        }

        func run() throws {
            guard let root = try global.openRoot() else {
                if json { try printJSON([Row]()) }
                return
            }
            let store = try root.openStore(create: true)
            let rows = try Leases(root: root, store: store).list().map {
                Row(id: $0.lease.id, tree: TreeJSON($0.lease.tree), pid: $0.lease.pid, liveness: $0.liveness.rawValue,
                    live: $0.liveness == .live, acquired_at: rfc3339($0.lease.acquiredAt), command: $0.lease.command,
                    cgroup: $0.lease.cgroup)
            }
            if json { return try printJSON(rows) }
            printTable(["LEASE", "TREE", "PID", "STATE", "ACQUIRED", "COMMAND"], rows.map {
                [$0.id, "\($0.tree.name)@\($0.tree.rev)", String($0.pid), $0.liveness, $0.acquired_at, $0.command ?? ""]
            })
        }
    }
}
