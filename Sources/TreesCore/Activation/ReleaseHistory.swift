/// Each release's life (`trees history NAME`): installed, activated,
/// judged, drained, deleted, from the tree rows and the history entries.
public struct ReleaseLife: Sendable {
    public var tree: TreeRecord
    /// Every time it became current, oldest first.
    public var activations: [Int64]
    /// When its last drain ended with nothing left running, if it did.
    public var drainedAt: Int64?
    /// Its history entries, oldest first (activation intents left out).
    public var events: [HistoryEntry]
}

extension Activation {
    /// The life of every release of `name` ever installed, oldest install first.
    public func releaseHistory(_ name: TreeName) throws -> [ReleaseLife] {
        let entries = try store.history(name: name)
        let byRev = Dictionary(grouping: entries, by: \.rev)
        return try store.trees(name: name, includeDeleted: true).map { tree in
            let events = byRev[tree.ref.rev.value] ?? []
            return ReleaseLife(
                tree: tree,
                activations: events.filter { $0.event == HistoryEvent.activated.rawValue }.map(\.at),
                drainedAt: events.last { $0.event == HistoryEvent.drained.rawValue }?.at,
                events: events)
        }
    }
}
