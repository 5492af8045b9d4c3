/// What the caller decides and the core obeys. The command line builds it
/// once from its options and the environment (`TREES_LOCK_TIMEOUT`,
/// `TREES_IGNORE_UNKNOWN_PIDS`, `TREES_CGROUP_PARENT`); a Swift program sets
/// the fields it wants. The core never reads the environment itself, so a
/// library user and a test can set each value, and no variable a release
/// build honours can change what it does behind the caller's back.
public struct Settings: Sendable, Equatable {
    /// Seconds a command waits for a lock or a busy database before it gives
    /// up with status 75.
    public var lockTimeout: Double
    /// Uninspectable pids the operator vouches for (typically `1` in a VM or
    /// container whose init cannot be read even by root). Empty: fail closed.
    public var ignoredUnknownPIDs: Set<Int32>
    /// Where `trees exec --cgroup` makes job cgroups when no parent is given;
    /// nil: under the caller's own cgroup.
    public var cgroupParent: String?

    public init(lockTimeout: Double = 30, ignoredUnknownPIDs: Set<Int32> = [], cgroupParent: String? = nil) {
        self.lockTimeout = lockTimeout
        self.ignoredUnknownPIDs = ignoredUnknownPIDs
        self.cgroupParent = cgroupParent
    }
}
