import ArgumentParser
import TreesCore
#if canImport(Glibc)
import Glibc
#endif

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a job from a tree, holding a lease on it for the job's whole life.",
        discussion: """
            Resolves NAME's current revision once (or uses REV), takes a lease for its own \
            pid, sets TREES_ROOT, TREES_TREE, TREES_TREE_PATH and TREES_LEASE, changes \
            into the tree and executes CMD in its own place: the job's pid is the lease's \
            pid. The job keeps its revision even when current moves on. If the state \
            database is not writable by this user, the job still runs, with a warning, \
            tracked through /proc alone; --require-lease makes that an error.

            With --cgroup, the job runs in a cgroup v2 group of its own, \
            PARENT/trees-NAME@REV-ID (ID: the lease id, or the pid without a lease), so \
            descendants that double-fork, leave the tree and clear their environment still \
            count as running from it (ps shows evidence 'cgroup'), and trees wait wakes when \
            the group empties; gc and wait remove it once empty. PARENT is --cgroup-parent, \
            else TREES_CGROUP_PARENT, else this process's own cgroup; it is a path relative \
            to the cgroup2 mount or an absolute path under it, and must exist. This needs a \
            writable cgroup v2 hierarchy (usually root, or a delegated subtree); where there \
            is none, --cgroup fails with exit 1 and runs nothing.

            Exit status: CMD's own; 126 when CMD cannot be executed, 127 when it is not \
            found; 66 no such tree; 75 tree not ready (being collected); 1 when --cgroup \
            cannot make or enter the job's cgroup.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The code base (its current revision) or one tree.", valueName: "NAME[@REV]"))
    var tree: String

    @Flag(help: "Stay in the current directory instead of changing into the tree.")
    var noChdir = false

    @Flag(help: "Fail (exit 1) instead of running without a lease when the database is not writable.")
    var requireLease = false

    @Flag(help: "Run the job in a cgroup of its own (needs a writable cgroup v2 hierarchy).")
    var cgroup = false

    @Option(help: ArgumentHelp("The cgroup to create the job's cgroup in, relative to the cgroup2 mount or absolute under it (default: TREES_CGROUP_PARENT, else this process's cgroup).", valueName: "PATH"))
    var cgroupParent: String?

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command and its arguments, after --.", valueName: "CMD"))
    var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("Give the command after --, e.g. trees exec app -- bin/job.") }
        if cgroupParent != nil && !cgroup { throw ValidationError("--cgroup-parent needs --cgroup.") }
    }

    func run() throws {
        let selector = try TreeSelector(parsing: tree)
        guard let root = try Root.openExisting(global.location) else {
            throw TreesError(.notFound, "no trees root at \(global.location)")
        }
        let launcher = JobLauncher(root: root)
        let plan = try launcher.prepare(selector, requireLease: requireLease, command: command.joined(separator: " "),
                                        cgroup: cgroup ? CgroupRequest(parent: cgroupParent) : nil)
        if let warning = plan.warning { printWarning(warning) }
        // Only returns when exec failed (the lease is already given back).
        throw launcher.exec(plan, command: command, changeDirectory: !noChdir)
    }
}

struct LeaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lease",
        abstract: "Take, release and list leases (for supervisors that start jobs themselves).",
        subcommands: [Acquire.self, Release.self, ListLeases.self])

    struct Acquire: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a lease on a tree for a process and print its id.",
            discussion: "Exit status: 66 no such tree or process; 75 tree not ready.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: ArgumentHelp("The code base (its current revision) or one tree.", valueName: "NAME[@REV]"))
        var tree: String

        @Option(help: ArgumentHelp("The process that runs from the tree (default: the caller's parent, e.g. the shell).", valueName: "PID"))
        var pid: Int32?

        func run() throws {
            let selector = try TreeSelector(parsing: tree)
            let (root, store) = try global.openExisting()
            let lease = try Leases(root: root, store: store).acquire(selector, pid: pid ?? getppid())
            print(lease.id)
        }
    }

    struct Release: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Release a lease.", discussion: "Exit status: 66 no such lease.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: ArgumentHelp("The lease id that acquire printed.", valueName: "ID"))
        var id: String

        func run() throws {
            let (root, store) = try global.openExisting()
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
            guard let root = try Root.openExisting(global.location) else {
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

/// `{"name": …, "rev": …}` as ps and lease list print a tree.
struct TreeJSON: Encodable {
    let name: String
    let rev: String
    init(_ ref: TreeRef) {
        name = ref.name.value
        rev = ref.rev.value
    }
}
