#if canImport(Glibc)
import Glibc
#endif

/// What `trees exec` resolved before replacing itself with the job.
public struct JobPlan: Sendable {
    public var tree: TreeRef
    public var path: String
    public var lease: Lease?
    /// Set when the job runs without a lease (tracked through /proc alone).
    public var warning: String?
    public var cgroup: String?
}

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
    public func prepare(_ selector: TreeSelector, requireLease: Bool, command: String) throws -> JobPlan {
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

    /// Sets the environment, changes directory and executes `command`.
    /// Returns only on failure, with the error to report (126 or 127).
    public func exec(_ plan: JobPlan, command: [String], changeDirectory: Bool) -> TreesError {
        setenv("TREES_ROOT", root.path, 1)
        setenv("TREES_TREE", plan.tree.description, 1)
        setenv("TREES_TREE_PATH", plan.path, 1)
        if let lease = plan.lease { setenv("TREES_LEASE", lease.id, 1) } else { unsetenv("TREES_LEASE") }
        if changeDirectory && chdir(plan.path) != 0 {
            return TreesError.system("cannot change directory to", plan.path, errno: errno)
        }
        let argv = command.map { strdup($0) } + [nil]
        execvp(command[0], argv)
        let err = errno
        argv.forEach { free($0) }
        switch err {
        case ENOENT, ENOTDIR:
            return TreesError(.commandNotFound, "\(command[0]): command not found", errno: err)
        default:
            return TreesError(.cannotExecute, "cannot execute \(command[0])", errno: err)
        }
    }
}

extension Leases {
    /// Resolves a selector from the disk alone, for a caller without database access.
    static func resolveWithoutStore(_ selector: TreeSelector, root: Root) throws -> TreeRef {
        let ref: TreeRef
        if let rev = selector.rev {
            ref = TreeRef(name: selector.name, rev: rev)
        } else {
            guard let rev = try Activation.currentRev(of: selector.name, in: root) else {
                throw TreesError(.notFound, "\(selector.name) has no current revision")
            }
            ref = TreeRef(name: selector.name, rev: rev)
        }
        guard let nameDir = try root.nameDirectory(ref.name), try isRealDirectory(nameDir, ref.rev.value) else {
            throw TreesError(.notFound, "no tree \(ref)")
        }
        return ref
    }
}
