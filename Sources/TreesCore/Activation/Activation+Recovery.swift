#if canImport(Glibc)
import Glibc
#endif

extension Activation {
    /// The history event written before `current` is renamed.
    static let intentEvent = "activating"
    /// Written when recovery finds that an intended activation never happened.
    static let undoneEvent = "activation-undone"

    /// An activation whose intent was committed but whose outcome was not.
    public struct PendingActivation: Sendable, Equatable {
        public let tree: TreeRef
        public let previous: Rev?
    }

    /// Intents without an outcome, one per name at most (activations of a
    /// name are serialised, so only the latest can be pending).
    public func pending(_ name: TreeName? = nil) throws -> [PendingActivation] {
        let filter = name == nil ? "" : " AND name = ?"
        let sql = """
            SELECT h.name, h.rev, h.previous, h.event FROM history h JOIN (
                SELECT MAX(id) AS id FROM history WHERE event IN (?, 'activated', ?)\(filter) GROUP BY name
            ) latest ON h.id = latest.id
            """
        var values: [SQLValue] = [.text(Activation.intentEvent), .text(Activation.undoneEvent)]
        if let name { values.append(.text(name.value)) }
        return try store.query(sql, values).compactMap { row in
            guard row[3].text == Activation.intentEvent, let n = row[0].text, let r = row[1].text,
                  let name = try? TreeName(n), let rev = try? Rev(r) else { return nil }
            return PendingActivation(tree: TreeRef(name: name, rev: rev), previous: row[2].text.flatMap { try? Rev($0) })
        }
    }

    /// Finishes or undoes what a killed `activate` left, reading `current`
    /// on disk: if it points at the intended rev the outcome is written now
    /// (so the old tree's grace period starts now, and rollback finds it);
    /// otherwise the intent is marked undone. A leftover `.current.new` is
    /// removed. Every name when `name` is nil.
    public func recover(_ name: TreeName? = nil) throws {
        let intents = try pending(name)
        guard !intents.isEmpty else { return }
        try store.serialized {
            for intent in try pending(name) {
                let nameDir = try root.nameDirectory(intent.tree.name)
                if let nameDir { _ = unlinkat(nameDir.fd, ".current.new", 0) }
                let onDisk = try nameDir.flatMap { try Activation.currentRev($0) }
                try store.write {
                    if onDisk == intent.tree.rev {
                        try finish(intent.tree, previous: intent.previous)
                    } else {
                        try store.record(intent.tree.name.value, intent.tree.rev.value, event: Activation.undoneEvent,
                                         previous: intent.previous?.value, detail: "current stayed at \(onDisk?.value ?? "nothing")")
                    }
                }
            }
        }
    }
}
