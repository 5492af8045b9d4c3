import ArgumentParser
import TreesCore
#if canImport(Glibc)
import Glibc
#endif

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a job from a tree, holding a lease on it for the job's whole life.",
        discussion: """
            Resolves NAME's current revision once (or uses REV), takes the tree's lease \
            lock (ROOT/.trees/leases/NAME@REV.lock) shared, records a lease for its own pid, \
            sets TREES_ROOT, TREES_TREE, TREES_TREE_PATH, TREES_SHARED (ROOT/NAME/shared, see \
            trees shared) and TREES_LEASE, changes into the \
            tree and executes CMD in its own place, keeping the lock's descriptor open: the \
            job and everything it starts hold the tree until the last of them exits, and no \
            one else can end that. The job keeps its revision even when current moves on. \
            A user in the group of ROOT/.trees (the database is the operator's alone) holds \
            the tree by the lock alone (no lease record). A user who may not open the lock file still \
            runs the job, with a warning, tracked through /proc alone; --require-lease makes \
            that an error. While gc holds the lock exclusive (deciding about or deleting \
            that tree) exec retries for up to TREES_LOCK_TIMEOUT, then exits 75.

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
            found; 66 no such tree; 75 tree not ready (being collected) or being drained, or its lock held \
            exclusive past the timeout; 1 when --cgroup cannot make or enter the job's \
            cgroup, or with --require-lease when no lease can be held.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The code base (its current revision) or one tree.", valueName: "NAME[@REV]"))
    var tree: String

    @Flag(help: "Stay in the current directory instead of changing into the tree.")
    var noChdir = false

    @Flag(help: "Fail (exit 1) instead of running without a lease when this user may neither open the lease lock nor write the database.")
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
        try ExecRequest(rootOption: global.root, tree: tree, noChdir: noChdir, requireLease: requireLease,
                        cgroup: cgroup, cgroupParent: cgroupParent, command: command).run()
    }
}
