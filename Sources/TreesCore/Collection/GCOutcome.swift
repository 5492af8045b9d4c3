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

extension GCOutcome {
    /// A kept decision that depends on what runs, as opposed to policy (current, pinned, kept, too young).
    static func isNoteworthy(_ reason: String) -> Bool {
        reason.hasPrefix("in use") || reason.hasPrefix("unknown process") || reason.hasPrefix("mount inside")
    }
}

extension GCRunRecord {
    /// What the store keeps of a run's decisions.
    init(_ outcomes: [GCOutcome]) {
        self.init()
        for outcome in outcomes {
            switch outcome.action {
            case .deleted:
                deletedTrees += 1
                freedBytes += outcome.bytesFreed
            case .kept where GCOutcome.isNoteworthy(outcome.reason):
                keptWhileInUse.append((outcome.tree, outcome.reason))
            default:
                break
            }
        }
    }
}
