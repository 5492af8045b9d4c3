#if canImport(Glibc)
import Glibc
#endif

/// What a drain reports as it goes (`trees drain --json` prints one line each).
public enum DrainEvent: Sendable {
    /// The drain began, or a re-run resumed it (its clock unchanged).
    case began(DrainRecord, resumed: Bool)
    /// Step `index` fell due and was sent.
    case step(index: Int, signal: DrainSignal, at: Int64)
    /// A process with evidence for the tree was signalled; `cgroup` when it
    /// was found as a member of the tree's job cgroup.
    case signalled(pid: Int32, signal: DrainSignal, evidence: [EvidenceKind], command: String, cgroup: String?, at: Int64)
    /// A job cgroup was killed whole (`cgroup.kill`).
    case cgroupKilled(cgroup: String, at: Int64)
    /// A process was not signalled, and why (its pid reused, the kernel refused).
    case skipped(pid: Int32, reason: String)
    /// A process that ran from the tree has exited (or left it: `left`).
    case exited(pid: Int32, at: Int64, left: Bool)
    /// A process that cannot be inspected: listed, never signalled.
    case unknown(UnknownProcess)
}

/// How a drain ended.
public struct DrainOutcome: Sendable {
    /// Nothing runs from the tree and no process is unknown.
    public var drained: Bool
    public var record: DrainRecord
    /// Processes still running from the tree (on timeout).
    public var survivors: [Holder]
    /// Processes that could not be inspected: a drain never ends well while any remains.
    public var unknown: [UnknownProcess]
    /// What the kernel holds of the tree (mounts, loop devices, swap files): no process to signal.
    public var kernelHolds: [Holder]
    /// Other users' processes the scan could not inspect, explained once.
    public var privilegeNotice: String?
}

/// Tells every process that runs from a tree to finish, on the schedule of
/// a `DrainProtocol`, and waits until none does.
///
/// Who is signalled comes from `UsageScanner` alone (live leases, job
/// cgroups and /proc evidence), never from a pidfile or a name; a process
/// that cannot be inspected is reported and never signalled. Each signal
/// goes through a pidfd after the process's identity (start time, pidfs
/// inode) is checked again (`ProcessProbe.signal`), so a pid reused since
/// the scan is never signalled.
///
/// The schedule lives in the database (`Store+Drains`): when the drain
/// began, when each step was sent, and whom each step signalled. Step N is
/// due at its deadline and never sooner after step N-1 was sent than the
/// protocol spaced them, so a drain killed and run again resumes on the same
/// clock, signals nobody twice with one step, and never sends two steps at
/// once that the protocol kept apart. A process that appears after a step
/// was sent (a fork, a cron job started from the tree's path) gets the
/// latest step's signal.
public struct Drainer {
    public let scanner: UsageScanner
    /// Seconds between rescans when nothing exits and no step falls due.
    public var interval: Double = 1.0
    /// Test seam: runs after a scan, before each process is signalled (a
    /// test makes its pid be reused here). Never set outside tests.
    var beforeSignal: ((Int32) -> Void)?

    public init(scanner: UsageScanner) { self.scanner = scanner }

    private func store() throws -> Store {
        guard let store = scanner.store else { throw TreesError(.failure, "a drain needs the state database") }
        return store
    }

    /// Begins the drain of `ref`, or finds the one under way.
    /// - Parameters:
    ///   - given: the protocol of the command line; nil uses the release's
    ///     own (`install --drain`), else TERM at once.
    ///   - includeCurrent: whether the current revision may be drained.
    /// - Throws: `.notFound` (66) for no such tree; `.usage` (64) for the
    ///   current revision without `includeCurrent`, or a protocol other
    ///   than the one of the drain under way; `.badInput` (65) for a kept
    ///   protocol that does not parse.
    public func begin(_ ref: TreeRef, protocol given: DrainProtocol?, includeCurrent: Bool) throws -> (DrainRecord, DrainProtocol, resumed: Bool) {
        let store = try store()
        guard let row = try store.tree(ref), row.state != .deleted, row.state != .installing else {
            throw TreesError(.notFound, "no tree \(ref)")
        }
        if !includeCurrent, try scanner.root.currentRev(of: ref.name) == ref.rev {
            throw TreesError(.usage, "\(ref) is the current revision of \(ref.name): draining it stops the jobs it serves and refuses new ones",
                             hint: "Activate another revision first, or pass --include-current.")
        }
        let probe = try scanner.probe.resolvingBootID()
        let ownPID = probe.ownPID()
        let me = SignalledProcess(bootID: try probe.bootID(), pid: ownPID, startTime: probe.stat(of: ownPID)?.startTime ?? 0)
        return try store.write {
            if let existing = try store.drain(of: ref) {
                if let given, given.description != existing.protocolText {
                    throw TreesError(.usage, "a drain of \(ref) is under way with protocol \(existing.protocolText), not \(given.description)",
                                     hint: "Run it again without --signal to resume it, or end it first with trees drain --cancel \(ref).")
                }
                // One drain process per tree: two would signal a job twice
                // with one step. A runner that is gone (killed, exited) is
                // taken over, which is how a drain resumes.
                if let runner = try store.drainRunner(ref), runner != me, runner.bootID == me.bootID,
                   probe.liveness(pid: runner.pid, startTime: runner.startTime, pidfdInode: nil, listed: nil) == .live {
                    throw TreesError(.temporary, "\(ref) is being drained by another trees drain (pid \(runner.pid))",
                                     hint: "Wait for it (trees wait \(ref)), or end it by its pid: the next drain resumes its schedule.")
                }
                try store.claimDrain(ref, runner: me)
                return (existing, try DrainProtocol(parsing: existing.protocolText), true)
            }
            let chosen = try given ?? store.drainProtocol(of: ref).map(DrainProtocol.init(parsing:)) ?? .standard
            _ = try store.beginDrain(ref, protocolText: chosen.description, at: unixNow())
            try store.claimDrain(ref, runner: me)
            guard let record = try store.drain(of: ref) else { throw TreesError(.failure, "the drain of \(ref) vanished") }
            return (record, chosen, false)
        }
    }

    /// Ends the drain of `ref`: its schedule is forgotten and leases are accepted again.
    /// - Returns: false when it was not being drained.
    public func cancel(_ ref: TreeRef) throws -> Bool {
        let store = try store()
        guard try store.tree(ref) != nil else { throw TreesError(.notFound, "no tree \(ref)") }
        return try store.write { try store.cancelDrain(ref) }
    }

    /// Drains `ref`: begins (or resumes) its drain, signals by the schedule
    /// and waits until nothing runs from it, or `timeout` seconds pass.
    /// - Returns: the outcome; `drained` is false on timeout or when only
    ///   processes that cannot be inspected remain (they are never waited
    ///   for without end: a drain cannot act on them).
    public func drain(_ ref: TreeRef, protocol given: DrainProtocol?, includeCurrent: Bool, timeout: Double?,
                      onEvent: (DrainEvent) -> Void) throws -> DrainOutcome {
        let store = try store()
        var (record, plan, resumed) = try begin(ref, protocol: given, includeCurrent: includeCurrent)
        onEvent(.began(record, resumed: resumed))
        let deadline = timeout.map { monotonicNow() + $0 }
        let probe = try scanner.probe.resolvingBootID()
        let bootID = try probe.bootID()
        let hierarchy = Cgroup.find(procRoot: probe.procRoot)
        let rootTag = Cgroup.rootTag(of: scanner.root)
        let leases = Leases(root: scanner.root, store: store, probe: probe)
        var seen: [Int32: UInt64] = [:]
        var announced: Set<Int32> = []
        var killedCgroups: Set<String> = []
        var skipped: Set<SignalledProcess> = [] // told once, however often the kernel refuses
        // A drain started from a shell or rollout script whose cwd is in the
        // tree never signals its own caller; the caller still holds the tree.
        let callers = probe.ancestors()
        while true {
            let report = try scanner.scan()
            let all = report.holders(of: ref)
            let holders = all.filter { !$0.isKernelHold }
            let now = unixNow()
            for (pid, start) in seen where !holders.contains(where: { $0.pid == pid && $0.startTime == start }) {
                let still = probe.stat(of: pid)
                let left = still?.startTime == start && still?.state != "Z" && still?.state != "X"
                onEvent(.exited(pid: pid, at: now, left: left))
                seen[pid] = nil
            }
            for holder in holders { seen[holder.pid] = holder.startTime }
            for unknown in report.unknownListed where announced.insert(unknown.pid).inserted { onEvent(.unknown(unknown)) }
            let isCaller = { (h: Holder) in callers.contains(SignalledIdentity(pid: h.pid, startTime: h.startTime)) }
            for holder in holders where isCaller(holder)
                && skipped.insert(SignalledProcess(bootID: bootID, pid: holder.pid, startTime: holder.startTime)).inserted {
                onEvent(.skipped(pid: holder.pid, reason: "it runs this trees drain (an ancestor of it), which never signals its caller"))
            }
            guard let current = try store.drain(of: ref) else {
                throw TreesError(.temporary, "the drain of \(ref) was cancelled while it ran")
            }
            record = current
            // Every lease of the tree that made a job cgroup, live or not:
            // a job's descendants may outlive it there.
            let rows = try leases.list(ref).map(\.lease)
            let cgroups = hierarchy == nil ? [] : Array(Set(rows.compactMap(\.validJobCgroup).filter { Cgroup.isJobCgroup($0, rootTag: rootTag) })).sorted()
            let populated = cgroups.filter { hierarchy?.isPopulated($0) == true }
            if holders.isEmpty && populated.isEmpty {
                var outcome = DrainOutcome(drained: report.unknown.isEmpty, record: record, survivors: [], unknown: report.unknownListed,
                                           kernelHolds: all.filter(\.isKernelHold), privilegeNotice: report.privilegeNotice)
                if outcome.drained {
                    if record.finishedAt == nil {
                        try store.write { try store.finishDrain(ref, at: now, detail: "\(record.sentAt.count) of \(plan.steps.count) steps sent") }
                        outcome.record = try store.drain(of: ref) ?? record
                    }
                    if let hierarchy { for cgroup in cgroups { hierarchy.removeIfEmpty(cgroup) } }
                }
                return outcome
            }
            // Only this drain's own callers are left: waiting for them would
            // wait for ever, since they wait for it.
            if populated.isEmpty && holders.allSatisfy(isCaller) {
                return DrainOutcome(drained: false, record: record, survivors: holders, unknown: report.unknownListed,
                                    kernelHolds: all.filter(\.isKernelHold), privilegeNotice: report.privilegeNotice)
            }
            if record.finishedAt != nil { try store.write { try store.reopenDrain(ref) } }
            // The steps that fell due, in order; each is recorded before its signals go out.
            var newlySent: [Int] = []
            while let due = plan.due(record.sentAt.count, startedAt: record.startedAt, sentAt: record.sentAt), due <= now {
                let index = record.sentAt.count
                try store.write { try store.markStepSent(ref, step: index, at: now) }
                record.sentAt[index] = now
                newlySent.append(index)
                onEvent(.step(index: index, signal: plan.steps[index].signal, at: now))
            }
            let latest = record.sentAt.count - 1
            for index in newlySent.isEmpty && latest >= 0 ? [latest] : newlySent {
                let signal = plan.steps[index].signal
                var done = try store.signalled(ref, step: index)
                let inodes = Dictionary(rows.map { ($0.id, $0.pidfdInode) }, uniquingKeysWith: { a, _ in a })
                for holder in holders {
                    let identity = SignalledProcess(bootID: bootID, pid: holder.pid, startTime: holder.startTime)
                    guard !done.contains(identity) else { continue }
                    if isCaller(holder) { continue }
                    beforeSignal?(holder.pid)
                    let inode = holder.leaseID.flatMap { inodes[$0] } ?? nil
                    let evidence = holder.evidence.sorted()
                    let outcome = probe.signal(holder.pid, startTime: holder.startTime, pidfdInode: inode, with: signal)
                    try settle(outcome, ref: ref, step: index, signal: signal, identity: identity, evidence: evidence,
                               command: holder.command, cgroup: nil, store: store, skipped: &skipped, onEvent: onEvent)
                    done.insert(identity)
                }
                // A job cgroup is signalled as a group: its members that no
                // scan saw yet (forks racing the drain) too, and KILL goes to
                // the whole group at once through cgroup.kill.
                guard let hierarchy else { continue }
                for cgroup in populated {
                    if signal == .kill && killedCgroups.insert(cgroup).inserted {
                        if let err = hierarchy.killAll(cgroup) {
                            onEvent(.skipped(pid: 0, reason: "cannot kill cgroup \(cgroup) at once: cgroup.kill: \(err); its processes are killed one by one"))
                        } else {
                            try store.write { try store.recordCgroupKill(ref, cgroup: cgroup) }
                            onEvent(.cgroupKilled(cgroup: cgroup, at: now))
                        }
                    }
                    for pid in hierarchy.processIDs(in: cgroup) where !done.contains(where: { $0.pid == pid && $0.bootID == bootID })
                        && !callers.contains(where: { $0.pid == pid }) {
                        beforeSignal?(pid)
                        let (outcome, start) = probe.signal(member: pid, of: cgroup, with: signal)
                        guard let start else { continue }
                        let identity = SignalledProcess(bootID: bootID, pid: pid, startTime: start)
                        try settle(outcome, ref: ref, step: index, signal: signal, identity: identity, evidence: [.cgroup],
                                   command: "", cgroup: cgroup, store: store, skipped: &skipped, onEvent: onEvent)
                        done.insert(identity)
                    }
                }
            }
            var wait = interval
            if let next = plan.due(record.sentAt.count, startedAt: record.startedAt, sentAt: record.sentAt) {
                wait = min(wait, max(0.05, Double(next - unixNow())))
            }
            if let deadline {
                let left = deadline - monotonicNow()
                if left <= 0 {
                    let survivors = try scanner.scan()
                    let remaining = survivors.holders(of: ref)
                    return DrainOutcome(drained: false, record: record, survivors: remaining.filter { !$0.isKernelHold },
                                        unknown: survivors.unknownListed, kernelHolds: remaining.filter(\.isKernelHold),
                                        privilegeNotice: survivors.privilegeNotice)
                }
                wait = min(wait, left)
            }
            Waiter(scanner: scanner).waitForAnyExit(Set(holders.map(\.pid)),
                                                    startTimes: Dictionary(holders.map { ($0.pid, $0.startTime) }, uniquingKeysWith: { a, _ in a }),
                                                    cgroups: hierarchy.map { h in populated.map(h.absolutePath) } ?? [], seconds: wait)
        }
    }

    /// Records and reports what became of one signal.
    private func settle(_ outcome: ProcessProbe.SignalOutcome, ref: TreeRef, step: Int, signal: DrainSignal, identity: SignalledProcess,
                        evidence: [EvidenceKind], command: String, cgroup: String?, store: Store, skipped: inout Set<SignalledProcess>,
                        onEvent: (DrainEvent) -> Void) throws {
        switch outcome {
        case .sent:
            let at = unixNow()
            let why = cgroup.map { "member of job cgroup \($0)" } ?? "evidence \(evidence.map(\.rawValue).joined(separator: ","))"
            try store.write {
                try store.recordSignal(ref, step: step, process: identity, at: at,
                                       detail: "\(signal.name) to pid \(identity.pid) (start time \(identity.startTime); \(why))\(command.isEmpty ? "" : ": " + command)")
            }
            onEvent(.signalled(pid: identity.pid, signal: signal, evidence: evidence, command: command, cgroup: cgroup, at: at))
        case .gone:
            break // it exited meanwhile: the next scan reports it
        case .reused:
            guard skipped.insert(identity).inserted else { return }
            onEvent(.skipped(pid: identity.pid, reason: "its pid now belongs to another process, which was not signalled"))
        case .failed(let err):
            guard skipped.insert(identity).inserted else { return }
            onEvent(.skipped(pid: identity.pid, reason: "\(signal.name) refused: \(err)"))
        }
    }
}
