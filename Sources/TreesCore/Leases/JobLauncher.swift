#if canImport(Glibc)
import Glibc
#endif

/// Starts a job from a tree: resolves `current` once, takes the tree's lease
/// lock shared and records a lease for this very process, then `execve`s the
/// command with the lock's descriptor left open, so the job (and whatever it
/// spawns) holds the tree until the last of them exits, and the lease's pid
/// is the job's pid with no wrapper left behind.
public struct JobLauncher {
    public let root: Root
    public var probe = ProcessProbe()

    public init(root: Root) { self.root = root }

    /// Resolves the tree, takes its lease lock and records the lease.
    ///
    /// A job user (not the operator: the database is the operator's alone)
    /// holds the tree through the lock alone; its lease is then not recorded
    /// (the job is listed through /proc). A user who may not even open the
    /// lock file runs tracked through /proc only, with a warning, unless
    /// `requireLease` is set. A tree being collected is refused with 75:
    /// gc holds its lock exclusive from condemning it until it is deleted
    /// or back to `ready`, and where the database can be read its state is
    /// checked too.
    ///
    /// With `cgroup`, the calling process then moves into a new cgroup of its
    /// own under the requested parent (see `Cgroup`), recorded in the lease.
    /// If that fails the lease is given back and the error (exit 1) names
    /// the path and errno.
    public func prepare(_ selector: TreeSelector, requireLease: Bool, command: String,
                        cgroup: CgroupRequest? = nil) throws -> JobPlan {
        var plan = try prepareLease(selector, requireLease: requireLease, command: command)
        guard let cgroup else { return plan }
        do {
            try enterCgroup(cgroup, plan: &plan)
        } catch {
            giveBackLease(plan)
            throw error
        }
        return plan
    }

    /// The job never ran: its lease must not keep the tree. The lock goes
    /// with the plan's descriptor.
    private func giveBackLease(_ plan: borrowing JobPlan) {
        if let lease = plan.lease, let store = try? root.openStore() {
            try? Leases(root: root, store: store, probe: probe).release(lease.id)
        }
    }

    private func prepareLease(_ selector: TreeSelector, requireLease: Bool, command: String) throws -> JobPlan {
        let ref = try Leases.resolve(selector, root: root)
        let lock = try TreeLock.shared(ref, in: root)
        let exact = TreeSelector(name: ref.name, rev: ref.rev)
        var store: Store?
        do {
            let opened = try root.openStore()
            store = opened
            let lease = try Leases(root: root, store: opened, probe: probe).acquire(exact, pid: probe.ownPID(), command: command)
            return JobPlan(tree: ref, path: root.treePath(ref), lease: lease, lock: lock)
        } catch let e as TreesError where e.code == .database || e.code == .failure {
            // Not the operator: no row. The state is still checked where the
            // database can be read, so no job starts in a tree being collected.
            if let state = try? store?.tree(ref)?.state, state != .ready {
                throw TreesError(.temporary, "\(ref) is \(state.rawValue) and takes no new jobs",
                                 hint: "It is being garbage-collected; start the job from `current` instead.")
            }
            if let drain = try? store?.drain(of: ref), drain != nil {
                throw TreesError(.temporary, "\(ref) is being drained and takes no new jobs",
                                 hint: "Start the job from `current` instead; `trees drain --cancel \(ref)` accepts jobs again.")
            }
            if lock != nil {
                // A job user's normal path; for the operator it means the database failed.
                let operatorRan = geteuid() == 0 || geteuid() == root.operatorUID
                return JobPlan(tree: ref, path: root.treePath(ref), lease: nil, lock: lock,
                               warning: operatorRan ? "the lease on \(ref) is not recorded (\(e.message)); the job holds the tree by its lock" : nil)
            }
            if requireLease {
                throw TreesError(e.code, "cannot take a lease on \(ref): this user may neither open \(root.path)/.trees/leases/\(ref).lock nor write the database (\(e.message))",
                                 errno: e.errno,
                                 hint: "Add this user to the group of \(root.path)/.trees (see trees(1), WHO MAY DO WHAT), or drop --require-lease.")
            }
            return JobPlan(tree: ref, path: root.treePath(ref), lease: nil, lock: nil,
                           warning: "running \(ref) without a lease (\(e.message)); the job is tracked through /proc only")
        }
    }

    /// Makes the job's cgroup, records it in the lease and moves this process into it.
    private func enterCgroup(_ request: CgroupRequest, plan: inout JobPlan) throws {
        guard let hierarchy = Cgroup.find(procRoot: probe.procRoot) else {
            throw TreesError(.failure, "--cgroup needs a cgroup v2 hierarchy, and none is mounted (no cgroup2 in \(probe.procRoot)/self/mountinfo)",
                             hint: "Run without --cgroup: the job is then tracked through its lease and /proc.")
        }
        let parent = try hierarchy.parent(option: request.parent ?? root.settings.cgroupParent, procRoot: probe.procRoot)
        let origin = Cgroup.ownCgroup(procRoot: probe.procRoot)
        let pid = getpid()
        let cgroup = try hierarchy.createJobCgroup(parent: parent, tree: plan.tree, rootTag: Cgroup.rootTag(of: root),
                                                   id: plan.lease?.id ?? String(pid))
        do {
            if let lease = plan.lease {
                let store = try root.openStore()
                try Leases(root: root, store: store, probe: probe).recordCgroup(cgroup, for: lease.id)
            }
            try hierarchy.move(pid, into: cgroup)
        } catch {
            hierarchy.removeIfEmpty(cgroup)
            throw error
        }
        plan.cgroup = cgroup
        plan.cgroupOrigin = origin
    }

    /// Sets the environment, changes directory and executes `command`.
    /// Returns only on failure, with the error to report (126 or 127),
    /// after giving the lease back and leaving the job's cgroup.
    public func exec(_ plan: borrowing JobPlan, command: [String], changeDirectory: Bool) -> TreesError {
        guard let program = command.first else {
            leaveCgroup(plan)
            giveBackLease(plan)
            return TreesError(.usage, "no command to run")
        }
        setenv("TREES_ROOT", root.path, 1)
        setenv("TREES_TREE", plan.tree.description, 1)
        setenv("TREES_TREE_PATH", plan.path, 1)
        setenv("TREES_SHARED", root.sharedPath(plan.tree.name), 1)
        if let lease = plan.lease { setenv("TREES_LEASE", lease.id, 1) } else { unsetenv("TREES_LEASE") }
        if changeDirectory && chdir(plan.path) != 0 {
            let err = errno
            leaveCgroup(plan)
            giveBackLease(plan)
            return TreesError.system("cannot change directory to", plan.path, errno: err)
        }
        if let failure = plan.lock?.inherit() {
            leaveCgroup(plan)
            giveBackLease(plan)
            return failure
        }
        // The job starts with no signal blocked, as systemd starts a
        // service: a supervisor whose threads block signals (Foundation's
        // Process hands its mask on) would otherwise give the job a mask in
        // which a drain's TERM waits for ever. Ignored signals stay ignored
        // (nohup's contract); only the mask is reset.
        var none = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, nil)
        let argv = command.map { strdup($0) } + [nil]
        execvp(program, argv)
        let err = errno
        argv.forEach { free($0) }
        leaveCgroup(plan)
        giveBackLease(plan)
        switch err {
        case ENOENT, ENOTDIR:
            return TreesError(.commandNotFound, "\(program): command not found", errno: Errno(err))
        default:
            return TreesError(.cannotExecute, "cannot execute \(program)", errno: Errno(err))
        }
    }
}

extension JobLauncher {
    /// After a failed exec: moves back to where this process came from and
    /// removes the job's cgroup, which nothing else can be in yet.
    private func leaveCgroup(_ plan: borrowing JobPlan) {
        guard let cgroup = plan.cgroup, let origin = plan.cgroupOrigin,
              let hierarchy = Cgroup.find(procRoot: probe.procRoot) else { return }
        guard (try? hierarchy.move(getpid(), into: origin)) != nil else { return }
        hierarchy.removeIfEmpty(cgroup)
    }
}
