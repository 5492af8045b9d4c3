#if canImport(Glibc)
import Glibc
#endif

/// Moves `ROOT/NAME/current`. The symlink on disk is the truth about what is
/// current; the database records when each tree became and stopped being
/// current, and what was current before (for rollback).
public struct Activation {
    public let root: Root
    public let store: Store

    public init(root: Root, store: Store) {
        self.root = root
        self.store = store
    }

    /// Points `current` at REV with one `rename(2)` of a fresh relative symlink.
    ///
    /// Crash safety: the database never runs ahead of the disk. An
    /// `activating` history entry (the intent, with the rev that was current)
    /// is committed before the rename, the outcome (activation and
    /// deactivation times, an `activated` entry) after the directory is
    /// fsynced. A kill in between leaves an intent that `recover` settles by
    /// reading `current` on disk. The write lock is held across all of it,
    /// so no other writer (gc above all) sees the half-step.
    /// - Returns: the rev that was current before, if any.
    /// - Parameters:
    ///   - force: activate a release marked bad (refused otherwise, 65).
    ///   - alongWithIntent: more to write in the transaction of the intent,
    ///     before `current` moves (rollback marks the release it leaves bad
    ///     there, so a kill can never leave it current and unmarked).
    @discardableResult
    public func activate(_ ref: TreeRef, force: Bool = false, alongWithIntent: ((Rev?) throws -> Void)? = nil) throws -> Rev? {
        try store.serialized {
            try recover(ref.name)
            // Jobs of the new tree write through its shared links from their
            // first moment. File work, so outside the transaction below: a
            // job's lease must not wait for a chown or an fsync.
            if let row = try store.tree(ref), row.state == .ready, row.verdict.verdict != .bad || force,
               try root.currentRev(of: ref.name) != ref.rev {
                try SharedPaths(root: root, store: store).prepare(ref.name)
            }
            let (nameDir, previous): (Directory, Rev?) = try store.write {
                guard let row = try store.tree(ref), row.state != .deleted, row.state != .installing else {
                    throw TreesError(.notFound, "no tree \(ref)", hint: "Install it first: trees install \(ref) SOURCE.")
                }
                guard row.state == .ready else {
                    throw TreesError(.temporary, "\(ref) is \(row.state.rawValue) and cannot become current",
                                     hint: "Wait for the running `trees gc` to finish, then try again.")
                }
                guard row.verdict.verdict != .bad || force else {
                    throw TreesError(.badInput, "\(ref) is marked bad\(row.verdict.reason.map { " (\($0))" } ?? "")",
                                     hint: "Activate it anyway with --force, or mark it good first: trees mark \(ref) good --reason TEXT.")
                }
                // A drained tree takes no new job: as `current` it would refuse every one.
                guard try store.drain(of: ref) == nil else {
                    throw TreesError(.temporary, "\(ref) is being drained and cannot become current",
                                     hint: "End the drain first: trees drain --cancel \(ref).")
                }
                guard let nameDir = try root.treeParent(ref) else {
                    throw TreesError(.notFound, "\(root.treePath(ref)) is missing on disk",
                                     hint: "Reinstall it, or run `trees verify \(ref)`.")
                }
                let previous = try Root.currentRev(in: nameDir)
                if previous != ref.rev {
                    // A return (rollback, a failed check) is rolled forward
                    // by recovery: what was written with its intent (the
                    // release it leaves marked bad) stands, so must the move.
                    try store.record(ref.name.value, ref.rev.value, event: .activating, previous: previous?.value,
                                     detail: alongWithIntent == nil ? nil : Activation.rollForward)
                }
                try alongWithIntent?(previous)
                return (nameDir, previous)
            }
            if previous == ref.rev { return previous }
            try pointCurrent(nameDir, at: ref.rev)
            try store.write { try finish(ref, previous: previous) }
            return previous
        }
    }

    /// The detail of an intent that recovery completes rather than undoes.
    static let rollForward = "roll forward"

    /// Swaps `current` to `rev`: a fresh relative symlink renamed over it, then the directory synced.
    func pointCurrent(_ nameDir: Directory, at rev: Rev) throws {
        let temporary = ".current.new"
        _ = unlinkat(nameDir.fd, temporary, 0)
        try syscall("cannot create symlink", "\(nameDir.path)/\(temporary)") {
            symlinkat(rev.value, nameDir.fd, temporary)
        }
        try syscall("cannot replace", "\(nameDir.path)/current") {
            renameat(nameDir.fd, temporary, nameDir.fd, "current")
        }
        try nameDir.sync()
    }

    /// Records that REV became current and `previous` stopped being so: the
    /// outcome of an activation, written once the link is on disk.
    func finish(_ ref: TreeRef, previous: Rev?) throws {
        try store.recordActivation(ref, previous: previous, at: unixNow())
        try store.record(ref.name.value, ref.rev.value, event: .activated, previous: previous?.value)
    }
}
