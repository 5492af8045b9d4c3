/// What moves a tree from one state to another: each is one named method of
/// `Store` (`Store+Transitions.swift`), the only code that writes a state.
public enum TreeEvent: String, Sendable, CaseIterable {
    /// `beginInstall`: install writes its intent, before the tree leaves staging.
    case beginInstall = "begin install"
    /// `abandonInstall`: the tree never left staging; the intent goes.
    case abandonInstall = "abandon install"
    /// `markInstalled`: the tree is at REV, sealed and synced.
    case markInstalled = "mark installed"
    /// `condemn`: gc found no live lease and holds the lease lock.
    case condemn
    /// `reprieve`: evidence of use, a tree gc could not move, or a killed gc's tree still in place.
    case reprieve
    /// `markDeleting`: committed before the rename into the trash (again when recovery resumes it).
    case markDeleting = "mark deleting"
    /// `markDeleted`: the trash entry is gone, or a killed gc's tree is nowhere.
    case markDeleted = "mark deleted"
    /// `markMissing`: doctor finds a ready tree missing on disk.
    case markMissing = "mark missing"
    /// `adopt`: doctor records a tree found on disk that the database does not know.
    case adopt
}

/// One allowed move; `nil` stands for "no row".
public struct TreeTransition: Sendable, Hashable {
    public let from: TreeState?
    public let event: TreeEvent
    public let to: TreeState?
}

extension TreeState {
    /// The life of a tree, every move trees makes and no other:
    /// `installing → ready → (condemned → ready | deleting → deleted)`, with
    /// the moves of recovery and doctor beside it. A new state (a release
    /// verdict) is a case and its rows here; `TreeTransitionsTests`
    /// walks every pair. A drain is not a state: a draining tree stays
    /// `ready` (gc deletes it once nothing runs from it) and its schedule is
    /// kept beside the state (`Store+Drains.swift`).
    public static let transitions: [TreeTransition] = [
        .init(from: nil,         event: .beginInstall,   to: .installing),
        .init(from: .deleted,    event: .beginInstall,   to: .installing),
        .init(from: .installing, event: .abandonInstall, to: nil),
        .init(from: .installing, event: .markInstalled,  to: .ready),
        .init(from: .ready,      event: .condemn,        to: .condemned),
        .init(from: .condemned,  event: .reprieve,       to: .ready),
        .init(from: .deleting,   event: .reprieve,       to: .ready),
        .init(from: .condemned,  event: .markDeleting,   to: .deleting),
        .init(from: .deleting,   event: .markDeleting,   to: .deleting),
        .init(from: .deleting,   event: .markDeleted,    to: .deleted),
        .init(from: .condemned,  event: .markDeleted,    to: .deleted),
        .init(from: .ready,      event: .markMissing,    to: .deleted),
        .init(from: nil,         event: .adopt,          to: .ready),
        .init(from: .deleted,    event: .adopt,          to: .ready),
    ]

    /// The move `event` makes from `state` (nil: no row), or nil when the table forbids it.
    public static func transition(from state: TreeState?, by event: TreeEvent) -> TreeTransition? {
        transitions.first { $0.from == state && $0.event == event }
    }
}
