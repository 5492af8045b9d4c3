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
    /// "unknown process …", "mount inside …", "unused".
    public var reason: String
    public var pids: [Int32] = []
    public var bytesFreed: Int64 = 0
}
