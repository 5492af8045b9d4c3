/// The drain tables: a release's own protocol, the schedule of a drain
/// under way and whom each step signalled. A drain is beside the tree's
/// state, not one of them: a draining tree stays `ready` (gc deletes it
/// once nothing runs from it) but takes no new lease. Writers are called
/// inside `write`.
extension Store {
    /// The row id of `ref`, or nil.
    private func treeID(_ ref: TreeRef) throws -> Int64? {
        try query("SELECT id FROM trees WHERE name = ? AND rev = ?", [.text(ref.name.value), .text(ref.rev.value)]).first?.first?.int
    }

    /// Keeps the protocol a release declared at install (`install --drain`).
    func setDrainProtocol(_ ref: TreeRef, _ text: String?) throws {
        try query("UPDATE trees SET drain_protocol = ? WHERE name = ? AND rev = ?",
                  [text.map { .text($0) } ?? .null, .text(ref.name.value), .text(ref.rev.value)])
    }

    /// The protocol `ref`'s release declared at install, as kept (parse it again before use).
    public func drainProtocol(of ref: TreeRef) throws -> String? {
        try query("SELECT drain_protocol FROM trees WHERE name = ? AND rev = ?",
                  [.text(ref.name.value), .text(ref.rev.value)]).first?.first?.text
    }

    /// Whether tree `treeID` is being drained (so it takes no new lease).
    func isDraining(treeID: Int64) throws -> Bool {
        try !query("SELECT 1 FROM drains WHERE tree_id = ?", [.int(treeID)]).isEmpty
    }

    /// The drain of `ref`, if one was begun and not cancelled.
    public func drain(of ref: TreeRef) throws -> DrainRecord? {
        guard let id = try treeID(ref),
              let row = try query("SELECT protocol, started_at, finished_at FROM drains WHERE tree_id = ?", [.int(id)]).first,
              let text = row[0].text, let started = row[1].int else { return nil }
        var sent: [Int: Int64] = [:]
        for step in try query("SELECT step, sent_at FROM drain_steps WHERE tree_id = ?", [.int(id)]) {
            if let index = step[0].int, let at = step[1].int { sent[Int(index)] = at }
        }
        return DrainRecord(tree: ref, protocolText: text, startedAt: started, finishedAt: row[2].int, sentAt: sent)
    }

    /// Every tree being drained.
    public func drains() throws -> [TreeRef] {
        try query("SELECT t.name, t.rev FROM drains d JOIN trees t ON t.id = d.tree_id ORDER BY t.name, t.rev").compactMap { row in
            guard let name = row[0].text.flatMap({ try? TreeName($0) }), let rev = row[1].text.flatMap({ try? Rev($0) }) else { return nil }
            return TreeRef(name: name, rev: rev)
        }
    }

    /// Begins a drain of `ref` with `protocolText` at `time`, with a
    /// `drain-started` history entry. - Returns: false when one is under way already.
    func beginDrain(_ ref: TreeRef, protocolText: String, at time: Int64) throws -> Bool {
        guard let id = try treeID(ref) else { throw TreesError(.notFound, "no tree \(ref)") }
        try query("INSERT OR IGNORE INTO drains (tree_id, protocol, started_at) VALUES (?, ?, ?)",
                  [.int(id), .text(protocolText), .int(time)])
        guard db.changes > 0 else { return false }
        try record(ref.name.value, ref.rev.value, event: .drainStarted, detail: protocolText)
        return true
    }

    /// The `trees drain` process recorded as running `ref`'s drain, if any.
    func drainRunner(_ ref: TreeRef) throws -> SignalledProcess? {
        guard let id = try treeID(ref),
              let row = try query("SELECT runner_boot_id, runner_pid, runner_start_time FROM drains WHERE tree_id = ?", [.int(id)]).first,
              let boot = row[0].text, let pid = row[1].int else { return nil }
        return SignalledProcess(bootID: boot, pid: Int32(truncatingIfNeeded: pid), startTime: UInt64(bitPattern: row[2].int ?? 0))
    }

    /// Records `runner` as the process running `ref`'s drain.
    func claimDrain(_ ref: TreeRef, runner: SignalledProcess) throws {
        guard let id = try treeID(ref) else { return }
        try query("UPDATE drains SET runner_boot_id = ?, runner_pid = ?, runner_start_time = ? WHERE tree_id = ?",
                  [.text(runner.bootID), .int(Int64(runner.pid)), .int(Int64(bitPattern: runner.startTime)), .int(id)])
    }

    /// Records that step `step` of `ref`'s drain was sent at `time` (before its signals go out).
    func markStepSent(_ ref: TreeRef, step: Int, at time: Int64) throws {
        guard let id = try treeID(ref) else { return }
        try query("INSERT OR IGNORE INTO drain_steps (tree_id, step, sent_at) VALUES (?, ?, ?)",
                  [.int(id), .int(Int64(step)), .int(time)])
    }

    /// The processes step `step` of `ref`'s drain signalled.
    public func signalled(_ ref: TreeRef, step: Int) throws -> Set<SignalledProcess> {
        guard let id = try treeID(ref) else { return [] }
        return Set(try query("SELECT boot_id, pid, start_time FROM drain_signals WHERE tree_id = ? AND step = ?",
                             [.int(id), .int(Int64(step))]).compactMap { row in
            guard let boot = row[0].text, let pid = row[1].int else { return nil }
            return SignalledProcess(bootID: boot, pid: Int32(truncatingIfNeeded: pid), startTime: UInt64(bitPattern: row[2].int ?? 0))
        })
    }

    /// Records that step `step` signalled `process`, with a `signalled` history entry (`detail`).
    func recordSignal(_ ref: TreeRef, step: Int, process: SignalledProcess, at time: Int64, detail: String) throws {
        guard let id = try treeID(ref) else { return }
        try query("INSERT OR IGNORE INTO drain_signals (tree_id, step, boot_id, pid, start_time, at) VALUES (?, ?, ?, ?, ?, ?)",
                  [.int(id), .int(Int64(step)), .text(process.bootID), .int(Int64(process.pid)),
                   .int(Int64(bitPattern: process.startTime)), .int(time)])
        try record(ref.name.value, ref.rev.value, event: .signalled, detail: detail)
    }

    /// Records that a KILL step killed job cgroup `cgroup` of `ref` whole (`cgroup.kill`).
    func recordCgroupKill(_ ref: TreeRef, cgroup: String) throws {
        try record(ref.name.value, ref.rev.value, event: .signalled, detail: "KILL to job cgroup \(cgroup) (cgroup.kill)")
    }

    /// Nothing runs from `ref` any more: the drain is finished (and stays, refusing leases).
    func finishDrain(_ ref: TreeRef, at time: Int64, detail: String) throws {
        guard let id = try treeID(ref) else { return }
        try query("UPDATE drains SET finished_at = ? WHERE tree_id = ?", [.int(time), .int(id)])
        try record(ref.name.value, ref.rev.value, event: .drained, detail: detail)
    }

    /// A re-run found processes again: the drain is under way once more.
    func reopenDrain(_ ref: TreeRef) throws {
        guard let id = try treeID(ref) else { return }
        try query("UPDATE drains SET finished_at = NULL WHERE tree_id = ?", [.int(id)])
    }

    /// Ends `ref`'s drain (its steps and signals go with it). - Returns: false when there was none.
    func cancelDrain(_ ref: TreeRef) throws -> Bool {
        guard let id = try treeID(ref) else { return false }
        try query("DELETE FROM drain_signals WHERE tree_id = ?", [.int(id)])
        try query("DELETE FROM drain_steps WHERE tree_id = ?", [.int(id)])
        try query("DELETE FROM drains WHERE tree_id = ?", [.int(id)])
        guard db.changes > 0 else { return false }
        try record(ref.name.value, ref.rev.value, event: .drainCancelled)
        return true
    }
}
