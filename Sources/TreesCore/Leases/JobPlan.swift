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
    /// The job's own cgroup (`--cgroup`), relative to the cgroup v2 mount;
    /// this process is already in it.
    public var cgroup: String?
    /// Where this process was before it moved into `cgroup`, to go back to
    /// if the command cannot be executed.
    var cgroupOrigin: String?
}
