#if canImport(Glibc)
import Glibc
#endif

/// What `trees exec` resolved before replacing itself with the job.
/// Noncopyable: it owns the tree's lease lock.
public struct JobPlan: ~Copyable, Sendable {
    public var tree: TreeRef
    public var path: String
    public var lease: Lease?
    /// The tree's lease lock, held shared; the job inherits it across
    /// `execve`. Nil when this user may not open the lock file.
    public var lock: TreeLock?
    /// Set when the job runs without a lease (tracked through /proc alone).
    public var warning: String?
    /// The job's own cgroup (`--cgroup`), relative to the cgroup v2 mount;
    /// this process is already in it.
    public var cgroup: String?
    /// Where this process was before it moved into `cgroup`, to go back to
    /// if the command cannot be executed.
    var cgroupOrigin: String?

    public init(tree: TreeRef, path: String, lease: Lease?, lock: consuming TreeLock?, warning: String? = nil) {
        self.tree = tree
        self.path = path
        self.lease = lease
        self.lock = lock
        self.warning = warning
    }
}
