#if canImport(Glibc)
import Glibc
#endif

extension Activation {
    /// An activation whose intent was committed but whose outcome was not.
    public struct PendingActivation: Sendable, Equatable {
        public let tree: TreeRef
        public let previous: Rev?
        /// A return (rollback, a failed check): completed, not undone.
        public var rollForward = false
    }

    /// Intents without an outcome, one per name at most (activations of a
    /// name are serialised, so only the latest can be pending).
    public func pending(_ name: TreeName? = nil) throws -> [PendingActivation] {
        try store.latestActivationEvents(name, events: [.activating, .activated, .activationUndone]).compactMap { row in
            guard row.event == .activating, let name = try? TreeName(row.name), let rev = try? Rev(row.rev) else { return nil }
            return PendingActivation(tree: TreeRef(name: name, rev: rev), previous: row.previous.flatMap { try? Rev($0) },
                                     rollForward: row.detail == Activation.rollForward)
        }
    }

    /// Finishes or undoes what a killed `activate` left, reading `current`
    /// on disk: if it points at the intended rev the outcome is written now
    /// (so the old tree's grace period starts now, and rollback finds it);
    /// otherwise the intent is marked undone, except a return's (rollback,
    /// a failed check), whose move is made now while its tree is ready: the
    /// release it left was marked bad with the intent, and must not stay current. A leftover `.current.new` is
    /// removed. Every name when `name` is nil.
    public func recover(_ name: TreeName? = nil) throws {
        let intents = try pending(name)
        guard !intents.isEmpty else { return }
        try store.serialized {
            for intent in try pending(name) {
                let nameDir = try root.nameDirectory(intent.tree.name)
                if let nameDir { _ = unlinkat(nameDir.fd, ".current.new", 0) }
                var onDisk = try nameDir.flatMap { try Root.currentRev(in: $0) }
                if intent.rollForward, onDisk != intent.tree.rev, let nameDir,
                   try store.tree(intent.tree)?.state == .ready, try root.hasTree(intent.tree) {
                    try pointCurrent(nameDir, at: intent.tree.rev)
                    onDisk = intent.tree.rev
                }
                try store.write {
                    if onDisk == intent.tree.rev {
                        try finish(intent.tree, previous: intent.previous)
                    } else {
                        try store.record(intent.tree.name.value, intent.tree.rev.value, event: .activationUndone,
                                         previous: intent.previous?.value, detail: "current stayed at \(onDisk?.value ?? "nothing")")
                    }
                }
            }
        }
    }
}
