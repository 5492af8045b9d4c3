/// The life of a tree: `installing → ready → (condemned → ready | deleting → deleted)`;
/// every allowed move is a row of `TreeState.transitions` (`TreeTransitions.swift`).
public enum TreeState: String, Sendable, Encodable, CaseIterable {
    case installing, ready, condemned, deleting, deleted
}
