#if canImport(Glibc)
import Glibc
#endif

/// Starts a job from a tree: resolves `current` once, takes a lease for this
/// very process, then `execve`s the command, so the lease's pid is the job's
/// pid and no wrapper stays behind.
public struct JobLauncher {
    public let root: Root
    public var probe = ProcessProbe()

    public init(root: Root) { self.root = root }

    /// Resolves the tree and takes the lease for the calling process.
    /// A caller that cannot write the state database gets a plan without a
    /// lease and a warning, unless `requireLease` is set.
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

    /// The job never ran: its lease must not keep the tree.
    private func giveBackLease(_ plan: JobPlan) {
        if let lease = plan.lease, let store = try? root.openStore() {
            try? Leases(root: root, store: store, probe: probe).release(lease.id)
        }
    }

    private func prepareLease(_ selector: TreeSelector, requireLease: Bool, command: String) throws -> JobPlan {
        do {
            let store = try root.openStore()
            let lease = try Leases(root: root, store: store, probe: probe).acquire(selector, pid: getpid(), command: command)
            return JobPlan(tree: lease.tree, path: root.treePath(lease.tree), lease: lease)
        } catch let e as TreesError where e.code == .database || e.code == .failure {
            if requireLease {
                throw TreesError(e.code, "cannot take a lease: \(e.message)", errno: e.errno,
                                 hint: "Give this user write access to \(root.path)/.trees (see trees(1), WHO MAY DO WHAT), or drop --require-lease.")
            }
            let ref = try Leases.resolveWithoutStore(selector, root: root)
            return JobPlan(tree: ref, path: root.treePath(ref), lease: nil,
                           warning: "running \(ref) without a lease (\(e.message)); the job is tracked through /proc only")
        }
    }

    /// Makes the job's cgroup, records it in the lease and moves this process into it.
    private func enterCgroup(_ request: CgroupRequest, plan: inout JobPlan) throws {
        guard let hierarchy = Cgroup.find(procRoot: probe.procRoot) else {
            throw TreesError(.failure, "--cgroup needs a cgroup v2 hierarchy, and none is mounted (no cgroup2 in \(probe.procRoot)/self/mountinfo)",
                             hint: "Run without --cgroup: the job is then tracked through its lease and /proc.")
        }
        let parent = try hierarchy.parent(option: request.parent, procRoot: probe.procRoot)
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
    public func exec(_ plan: JobPlan, command: [String], changeDirectory: Bool) -> TreesError {
        setenv("TREES_ROOT", root.path, 1)
        setenv("TREES_TREE", plan.tree.description, 1)
        setenv("TREES_TREE_PATH", plan.path, 1)
        if let lease = plan.lease { setenv("TREES_LEASE", lease.id, 1) } else { unsetenv("TREES_LEASE") }
        if changeDirectory && chdir(plan.path) != 0 {
            let err = errno
            leaveCgroup(plan)
            giveBackLease(plan)
            return TreesError.system("cannot change directory to", plan.path, errno: err)
        }
        let argv = command.map { strdup($0) } + [nil]
        execvp(command[0], argv)
        let err = errno
        argv.forEach { free($0) }
        leaveCgroup(plan)
        giveBackLease(plan)
        switch err {
        case ENOENT, ENOTDIR:
            return TreesError(.commandNotFound, "\(command[0]): command not found", errno: err)
        default:
            return TreesError(.cannotExecute, "cannot execute \(command[0])", errno: err)
        }
    }
}

extension JobLauncher {
    /// After a failed exec: moves back to where this process came from and
    /// removes the job's cgroup, which nothing else can be in yet.
    private func leaveCgroup(_ plan: JobPlan) {
        guard let cgroup = plan.cgroup, let origin = plan.cgroupOrigin,
              let hierarchy = Cgroup.find(procRoot: probe.procRoot) else { return }
        guard (try? hierarchy.move(getpid(), into: origin)) != nil else { return }
        hierarchy.removeIfEmpty(cgroup)
    }
}
