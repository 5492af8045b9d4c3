#if canImport(Glibc)
import Glibc
#endif

/// What GC did, or would do, with one tree.
public struct GCOutcome: Sendable {
    public enum Action: String, Sendable, Encodable {
        case deleted, kept
        case wouldDelete = "would-delete"
    }

    public var tree: TreeRef
    public var action: Action
    /// Why: "current", "pinned", "kept for rollback", "too young", "in use by pids …",
    /// "in use (lease lock held)", "unknown process …", "mount inside …", "unused",
    /// or, when another command changed the tree while gc looked at it,
    /// "became current", "became pinned", "became STATE".
    public var reason: String
    public var pids: [Int32] = []
    public var bytesFreed: Int64 = 0
    /// Kept because another command changed the tree after the policy chose it.
    public var changed = false
}
