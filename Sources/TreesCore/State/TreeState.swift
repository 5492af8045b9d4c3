/// The life of a tree: `installing → ready → (condemned → ready | deleting → deleted)`.
public enum TreeState: String, Sendable, Encodable, CaseIterable {
    case installing, ready, condemned, deleting, deleted
}
