#if canImport(Glibc)
import Glibc
#endif

/// Good and bad releases (DESIGN.md "Rollouts"): rollback skips bad ones and
/// marks the one it leaves; `activate --check` judges the new one and, when
/// the check fails, returns `current` to the last good one in one step.
extension Activation {
    /// Where `rollback` goes.
    public enum RollbackTarget: Sendable, Equatable {
        /// N steps back through the revisions that were current, newest
        /// first, skipping bad ones and ones no longer installed (1: the
        /// one current before the present one).
        case stepsBack(Int)
        /// The good revision most recently current (or, if none was, most recently installed).
        case lastGood
        /// This revision (a bad one only with `force`).
        case rev(Rev)
    }

    public struct RollbackResult: Sendable, Equatable {
        public var from: Rev
        public var to: TreeRef
        /// Whether the revision left was marked bad.
        public var markedBad: Bool
    }

    /// Makes an earlier revision current. The one left is marked bad (unless
    /// `mark` is false) in the transaction that writes the activation's
    /// intent, so a kill never leaves it current again and unmarked.
    /// - Throws: `.notFound` (66) when there is no current revision or no
    ///   revision to go to; `.badInput` (65) for a bad `--to REV` without `force`.
    public func rollback(_ name: TreeName, to target: RollbackTarget = .stepsBack(1), mark: Bool = true,
                         force: Bool = false, by who: String) throws -> RollbackResult {
        try store.serialized {
            // A killed activate is settled first, so the walk starts at the
            // rev that is current on disk.
            try recover(name)
            guard let current = try root.currentRev(of: name) else {
                throw TreesError(.notFound, "\(name) has no current revision to roll back from")
            }
            let destination = try rollbackDestination(name, from: current, target)
            let left = TreeRef(name: name, rev: current)
            try activate(destination, force: force) { _ in
                if mark {
                    try store.setVerdict(left, .bad, by: who, reason: "rolled back to \(destination.rev)", at: unixNow())
                }
            }
            try store.write { try store.record(name.value, destination.rev.value, event: .rolledBack, previous: current.value) }
            return RollbackResult(from: current, to: destination, markedBad: mark)
        }
    }

    /// Trees of `name` that could become current again, other than `current`.
    private func installed(_ name: TreeName, except current: Rev?) throws -> [TreeRecord] {
        try store.trees(name: name).filter { ($0.state == .ready || $0.state == .condemned) && $0.ref.rev != current }
    }

    private func rollbackDestination(_ name: TreeName, from current: Rev, _ target: RollbackTarget) throws -> TreeRef {
        switch target {
        case .rev(let rev):
            let ref = TreeRef(name: name, rev: rev)
            guard rev != current else { throw TreesError(.usage, "\(ref) is current already") }
            guard try installed(name, except: current).contains(where: { $0.ref == ref }) else {
                throw TreesError(.notFound, "\(ref) is not installed", hint: "See trees history \(name).")
            }
            return ref
        case .lastGood:
            guard let good = try lastGood(name, except: current) else {
                throw TreesError(.notFound, "\(name) has no good revision installed other than \(current)",
                                 hint: "Mark one good (trees mark \(name)@REV good), or roll back with --to REV.")
            }
            return good
        case .stepsBack(let steps):
            // Newest activation first: the revision current before the
            // present one had the latest activation of all the others.
            let walk = try installed(name, except: current)
                .filter { $0.activatedAt != nil && $0.verdict.verdict != .bad }
                .sorted { ($0.activatedAt ?? 0, $0.id) > ($1.activatedAt ?? 0, $1.id) }
            guard steps >= 1, steps <= walk.count else {
                throw TreesError(.notFound, walk.isEmpty
                                 ? "\(name)@\(current) has no previous revision to roll back to (installed and not marked bad)"
                                 : "\(name) has only \(walk.count) earlier revision(s) to roll back to (installed and not marked bad)",
                                 hint: "See trees history \(name); go to a bad one with --to REV --force.")
            }
            return walk[steps - 1].ref
        }
    }

    /// The good revision of `name` most recently current (or, if none was,
    /// most recently installed), other than `current`.
    public func lastGood(_ name: TreeName, except current: Rev?) throws -> TreeRef? {
        try installed(name, except: current).filter { $0.verdict.verdict == .good }
            .max { ($0.activatedAt ?? 0, $0.installedAt ?? 0, $0.id) < ($1.activatedAt ?? 0, $1.installedAt ?? 0, $1.id) }?.ref
    }

    /// How a release check ended.
    public enum CheckResult: Sendable, Equatable {
        case passed
        /// Why not: "exited with status 3", "timed out after 10m", …
        case failed(String)
    }

    public struct CheckedActivation: Sendable, Equatable {
        public var tree: TreeRef
        public var previous: Rev?
        public var result: CheckResult
        /// Where `current` went back to after a failed check; nil when the
        /// check passed, when there was no good (or earlier) revision to go
        /// to, or when another command moved `current` meanwhile.
        public var returnedTo: TreeRef?
    }

    /// Activates `ref`, then runs `check` against it (the caller runs the
    /// check command from the tree, under a lease). A pass marks it good; a
    /// failure marks it bad and returns `current` to the last good revision
    /// (or, with none, to the one current before if it is not bad) with one
    /// `rename(2)`, the mark written with that activation's intent. The
    /// check runs with no lock held: it may take minutes.
    public func activate(_ ref: TreeRef, force: Bool = false, command: String, by who: String,
                         checkedBy check: (TreeRef) throws -> CheckResult) throws -> CheckedActivation {
        let previous = try activate(ref, force: force)
        let result = try check(ref)
        let now = unixNow()
        guard case .failed(let why) = result else {
            try store.write { try store.setVerdict(ref, .good, by: who, reason: "activate --check passed: \(command)", at: now) }
            return CheckedActivation(tree: ref, previous: previous, result: result, returnedTo: nil)
        }
        let reason = "activate --check failed: \(command): \(why)"
        let markBad = { try store.setVerdict(ref, .bad, by: who, reason: reason, at: now) }
        return try store.serialized {
            // Only a `current` that still names the checked release goes back:
            // another activation meanwhile was someone's decision.
            var back = try lastGood(ref.name, except: ref.rev)
            if back == nil, let previous, previous != ref.rev,
               let row = try store.tree(TreeRef(name: ref.name, rev: previous)), row.state == .ready, row.verdict.verdict != .bad {
                back = row.ref
            }
            guard let back, try root.currentRev(of: ref.name) == ref.rev else {
                try store.write { try markBad() }
                return CheckedActivation(tree: ref, previous: previous, result: result, returnedTo: nil)
            }
            try activate(back) { _ in try markBad() }
            try store.write { try store.record(ref.name.value, back.rev.value, event: .rolledBack, previous: ref.rev.value) }
            return CheckedActivation(tree: ref, previous: previous, result: result, returnedTo: back)
        }
    }

    /// Gives `ref` a verdict by hand (`trees mark`).
    public func mark(_ ref: TreeRef, _ verdict: Verdict, by who: String, reason: String?) throws {
        guard verdict != .unverified else { throw TreesError(.usage, "a release is marked good or bad, not unverified") }
        try store.write { try store.setVerdict(ref, verdict, by: who, reason: reason, at: unixNow()) }
    }
}
