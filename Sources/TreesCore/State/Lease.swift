/// A record that process P runs from tree T. P is identified by
/// `(boot_id, pid, starttime)` and, where the kernel has pidfs, by the inode
/// of a pidfd, so that neither pid reuse nor a reboot can fool it.
public struct Lease: Sendable {
    public var id: String
    public var tree: TreeRef
    public var bootID: String
    public var pid: Int32
    public var startTime: UInt64
    public var pidfdInode: UInt64?
    public var uid: UInt32?
    public var acquiredAt: Int64
    public var command: String?
    /// The job's own cgroup (`trees exec --cgroup`), as a path relative to
    /// the cgroup v2 mount, e.g. `/trees/trees-app@r1-0123456789abcdef`.
    public var cgroup: String? = nil
}
