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
    @discardableResult
    public func activate(_ ref: TreeRef) throws -> Rev? {
        try store.serialized {
            try recover(ref.name)
            let (nameDir, previous): (Directory, Rev?) = try store.write {
                guard let row = try store.tree(ref), row.state != .deleted, row.state != .installing else {
                    throw TreesError(.notFound, "no tree \(ref)", hint: "Install it first: trees install \(ref) SOURCE.")
                }
                guard row.state == .ready else {
                    throw TreesError(.temporary, "\(ref) is \(row.state.rawValue) and cannot become current",
                                     hint: "Wait for the running `trees gc` to finish, then try again.")
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
                    try store.record(ref.name.value, ref.rev.value, event: .activating, previous: previous?.value)
                }
                return (nameDir, previous)
            }
            if previous == ref.rev { return previous }
            let temporary = ".current.new"
            _ = unlinkat(nameDir.fd, temporary, 0)
            try syscall("cannot create symlink", "\(nameDir.path)/\(temporary)") {
                symlinkat(ref.rev.value, nameDir.fd, temporary)
            }
            try syscall("cannot replace", "\(nameDir.path)/current") {
                renameat(nameDir.fd, temporary, nameDir.fd, "current")
            }
            try nameDir.sync()
            try store.write { try finish(ref, previous: previous) }
            return previous
        }
    }

    /// Records that REV became current and `previous` stopped being so: the
    /// outcome of an activation, written once the link is on disk.
    func finish(_ ref: TreeRef, previous: Rev?) throws {
        try store.recordActivation(ref, previous: previous, at: unixNow())
        try store.record(ref.name.value, ref.rev.value, event: .activated, previous: previous?.value)
    }

    /// Activates the revision that was current before the present one.
    /// Throws `.notFound` (66) when there is none or it is gone.
    public func rollback(_ name: TreeName) throws -> TreeRef {
        try store.serialized {
            // A killed activate is settled first, so history names the rev
            // that is current on disk.
            try recover(name)
            return try rollbackNow(name)
        }
    }

    private func rollbackNow(_ name: TreeName) throws -> TreeRef {
        guard let current = try root.currentRev(of: name) else {
            throw TreesError(.notFound, "\(name) has no current revision to roll back from")
        }
        guard let text = try store.previousRev(TreeRef(name: name, rev: current)), let previous = try? Rev(text) else {
            throw TreesError(.notFound, "\(name)@\(current) has no previous revision to roll back to")
        }
        let target = TreeRef(name: name, rev: previous)
        guard let row = try store.tree(target), row.state == .ready || row.state == .condemned else {
            throw TreesError(.notFound, "the previous revision \(target) is no longer installed")
        }
        try activate(target)
        try store.write { try store.record(name.value, previous.value, event: .rolledBack, previous: current.value) }
        return target
    }
}
