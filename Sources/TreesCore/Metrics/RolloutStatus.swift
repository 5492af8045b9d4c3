#if canImport(Glibc)
import Glibc
#endif

/// Where the rollout of one name stands on this host: its current revision,
/// the other revisions still installed with their jobs, and whether it has
/// converged (no job runs off current, and no uninspectable process could).
public struct RolloutStatus: Sendable {
    public struct RevStatus: Sendable {
        public var rev: Rev
        public var state: TreeState
        public var pinned: Bool
        public var verdict: Verdict
        public var jobs: Int
    }

    /// A process still running from a revision that is not current.
    public struct OldJob: Sendable {
        public var pid: Int32
        public var rev: Rev
        public var command: String
        /// Unix seconds, when known.
        public var startedAt: Int64?
    }

    public var name: TreeName
    public var current: Rev?
    /// The current revision's verdict (bad: a failed rollout that could not go back).
    public var currentVerdict: Verdict?
    public var jobsOnCurrent: Int
    /// Every installed revision other than current, oldest install first.
    public var others: [RevStatus]
    /// The longest-running process on a revision other than current (a
    /// kernel hold, which has no start, is counted in `jobs` but never this).
    public var oldestOldJob: OldJob?
    /// Processes that could not be inspected: any of them could run an old revision.
    public var unknownProcesses: Int

    /// True when there is a current revision, no job runs from another, and nothing is unknown.
    public var converged: Bool {
        current != nil && others.allSatisfy { $0.jobs == 0 } && unknownProcesses == 0
    }

    /// One status per name in the snapshot (or only `name`), sorted by name.
    public static func of(_ snapshot: HostSnapshot, name: TreeName? = nil) -> [RolloutStatus] {
        let live = snapshot.trees.filter { $0.state != .deleted && (name == nil || $0.ref.name == name) }
        return Set(live.map(\.ref.name)).sorted().map { name in
            let current = snapshot.current[name]
            let others = live.filter { $0.ref.name == name && $0.ref.rev != current }
            let oldest = snapshot.oldestJob { $0.name == name && $0.rev != current }
            return RolloutStatus(
                name: name, current: current,
                currentVerdict: live.first { $0.ref.name == name && $0.ref.rev == current }?.verdict.verdict,
                jobsOnCurrent: current.map { snapshot.jobs(on: TreeRef(name: name, rev: $0)) } ?? 0,
                others: others.map { RevStatus(rev: $0.ref.rev, state: $0.state, pinned: $0.pinned, verdict: $0.verdict.verdict, jobs: snapshot.jobs(on: $0.ref)) },
                oldestOldJob: oldest.map { OldJob(pid: $0.holder.pid, rev: $0.holder.tree.rev, command: $0.holder.command, startedAt: $0.startedAt) },
                unknownProcesses: snapshot.usage.unknown.count)
        }
    }
}
