/// The `leases` table. A lease has no state column: its row exists from
/// `addLease` until it is released, pruned as dead, or its tree is deleted;
/// whether it is alive is judged from /proc (see `ProcessProbe`), never
/// stored. Each method is called inside `write`, except the reads.
extension Store {
    /// Why a tree took no new lease: what `trees log` records (`reason`)
    /// and what the caller is told (`error`, 75).
    struct LeaseRefusal {
        let reason: String
        let error: TreesError
    }

    /// Records `lease` on tree `treeID` if the tree is `ready` and not being
    /// drained: the one check of both, in the caller's write transaction.
    /// - Returns: why not, when the tree takes no new lease (nothing is written).
    func addLeaseUnlessRefused(_ lease: Lease, treeID: Int64) throws -> LeaseRefusal? {
        let state = try query("SELECT state FROM trees WHERE id = ?", [.int(treeID)]).first?.first?.text
        guard state == TreeState.ready.rawValue else {
            return LeaseRefusal(reason: "being collected", error: TreesError(
                .temporary, "\(lease.tree) is \(state ?? "not recorded") and takes no new leases",
                hint: "It is being garbage-collected; start the job from `current` instead."))
        }
        guard try !isDraining(treeID: treeID) else {
            return LeaseRefusal(reason: "being drained", error: TreesError(
                .temporary, "\(lease.tree) is being drained and takes no new leases",
                hint: "Start the job from `current` instead; `trees drain --cancel \(lease.tree)` accepts leases again."))
        }
        try query("""
            INSERT INTO leases (id, tree_id, boot_id, pid, start_time, pidfd_inode, uid, acquired_at, command)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(lease.id), .int(treeID), .text(lease.bootID), .int(Int64(lease.pid)),
                  .int(Int64(bitPattern: lease.startTime)), lease.pidfdInode.map { .int(Int64(bitPattern: $0)) } ?? .null,
                  lease.uid.map { .int(Int64($0)) } ?? .null, .int(lease.acquiredAt), lease.command.map { .text($0) } ?? .null])
        return nil
    }

    /// Records `lease` on tree `treeID`. - Throws: `.temporary` (75) when the tree takes no new lease.
    func addLease(_ lease: Lease, treeID: Int64) throws {
        if let refusal = try addLeaseUnlessRefused(lease, treeID: treeID) { throw refusal.error }
    }

    /// Deletes lease `id`. - Returns: false when there is no such lease.
    func releaseLease(_ id: String) throws -> Bool {
        try query("DELETE FROM leases WHERE id = ?", [.text(id)])
        return db.changes > 0
    }

    /// Deletes the leases `ids`. - Returns: how many there were.
    func releaseLeases(_ ids: [String]) throws -> Int {
        var count = 0
        for id in ids where try releaseLease(id) { count += 1 }
        return count
    }

    /// Deletes every lease of tree `treeID` (it was deleted).
    func deleteLeases(treeID: Int64) throws {
        try query("DELETE FROM leases WHERE tree_id = ?", [.int(treeID)])
    }

    /// Records the cgroup of lease `id`'s job. - Returns: false when there is no such lease.
    func setLeaseCgroup(_ cgroup: String, for id: String) throws -> Bool {
        try query("UPDATE leases SET cgroup = ? WHERE id = ?", [.text(cgroup), .text(id)])
        return db.changes > 0
    }

    /// Every lease row (of `ref` if given), oldest first, not judged.
    func leases(_ ref: TreeRef? = nil) throws -> [Lease] {
        var sql = """
            SELECT l.id, t.name, t.rev, l.boot_id, l.pid, l.start_time, l.pidfd_inode, l.uid, l.acquired_at, l.command, l.cgroup
            FROM leases l JOIN trees t ON t.id = l.tree_id
            """
        var values: [SQLValue] = []
        if let ref {
            sql += " WHERE t.name = ? AND t.rev = ?"
            values = [.text(ref.name.value), .text(ref.rev.value)]
        }
        sql += " ORDER BY l.acquired_at, l.id"
        return try query(sql, values).compactMap { row in
            guard let id = row[0].text, let name = row[1].text, let rev = row[2].text,
                  let treeName = try? TreeName(name), let treeRev = try? Rev(rev) else { return nil }
            return Lease(
                id: id, tree: TreeRef(name: treeName, rev: treeRev), bootID: row[3].text ?? "",
                pid: Int32(truncatingIfNeeded: row[4].int ?? 0), startTime: UInt64(bitPattern: row[5].int ?? 0),
                pidfdInode: row[6].int.map { UInt64(bitPattern: $0) }, uid: row[7].int.map { UInt32(truncatingIfNeeded: $0) },
                acquiredAt: row[8].int ?? 0, command: row[9].text, cgroup: row[10].text)
        }
    }

    /// What judges each lease of boot `bootID`: its tree, pid, start time and pidfd inode.
    func leaseIdentities(bootID: String) throws -> [(treeID: Int64, pid: Int32, startTime: UInt64, pidfdInode: UInt64?)] {
        try query("SELECT tree_id, pid, start_time, pidfd_inode FROM leases WHERE boot_id = ?", [.text(bootID)]).compactMap { row in
            guard let treeID = row[0].int, let pid = row[1].int.map({ Int32(truncatingIfNeeded: $0) }) else { return nil }
            return (treeID, pid, UInt64(bitPattern: row[2].int ?? 0), row[3].int.map { UInt64(bitPattern: $0) })
        }
    }
}
