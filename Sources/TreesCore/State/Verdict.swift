/// A release's verdict, beside its state: whether the revision is known to
/// work. `activate --check`, `mark` and `rollback` give it; rollback and gc
/// read it (the last good release is where a failed rollout returns, and
/// the newest good one is never collected by policy).
public enum Verdict: String, Sendable, Encodable, CaseIterable {
    case unverified, good, bad
}

/// One allowed change of verdict.
public struct VerdictTransition: Sendable, Hashable {
    public let from: Verdict
    public let to: Verdict
}

extension Verdict {
    /// Every change of verdict trees makes: a release is judged good or bad,
    /// and an operator may change their mind (with a reason); nothing makes
    /// a judged release unverified again, so history never loses a verdict.
    /// Re-marking the same verdict records the new reason.
    public static let transitions: [VerdictTransition] = [
        .init(from: .unverified, to: .good), .init(from: .unverified, to: .bad),
        .init(from: .good, to: .bad), .init(from: .bad, to: .good),
        .init(from: .good, to: .good), .init(from: .bad, to: .bad),
    ]

    /// Whether the table holds the change `self → to`.
    public func may(become to: Verdict) -> Bool {
        Verdict.transitions.contains(.init(from: self, to: to))
    }

    /// The tree states in which a verdict may be given: an installed tree
    /// (gc may be deciding about it). Not one being installed, nor one gone.
    public static let judgeableStates: Set<TreeState> = [.ready, .condemned]
}

/// Who judged a release, when and why.
public struct VerdictRecord: Sendable, Equatable {
    public var verdict: Verdict
    public var by: String?
    public var at: Int64?
    public var reason: String?

    public init(verdict: Verdict = .unverified, by: String? = nil, at: Int64? = nil, reason: String? = nil) {
        self.verdict = verdict
        self.by = by
        self.at = at
        self.reason = reason
    }
}
