#if canImport(Glibc)
import Glibc
#endif

/// `trees exec --cgroup`: where to put the job's cgroup.
public struct CgroupRequest: Sendable {
    /// `--cgroup-parent`; nil for `TREES_CGROUP_PARENT`, else the caller's own cgroup.
    public var parent: String?

    public init(parent: String? = nil) { self.parent = parent }
}
