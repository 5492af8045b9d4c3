/// The named moves of `TreeState.transitions`, the only code that writes a
/// tree's state. Each is called inside `write`, reads the row's state in
/// that transaction and refuses (changing nothing) a move the table does
/// not hold; none opens a transaction of its own, so each command commits
/// exactly as often as it did when it wrote the SQL itself.
extension Store {
    /// Checks `event` against the table for the row of `ref` as it is now.
    /// - Returns: the row's id (nil when there is none) and the state it moves to.
    /// - Throws: `.failure` when no transaction is open or the table forbids the move.
    @discardableResult
    func checkTransition(_ ref: TreeRef, _ event: TreeEvent) throws -> (id: Int64?, to: TreeState?) {
        guard db.inTransaction else {
            throw TreesError(.failure, "\(event.rawValue) of \(ref) outside a write transaction")
        }
        let row = try query("SELECT id, state FROM trees WHERE name = ? AND rev = ?",
                            [.text(ref.name.value), .text(ref.rev.value)]).first
        let state = try row.map { row in
            guard let text = row[1].text, let state = TreeState(rawValue: text) else {
                throw TreesError(.database, "state database \(path) holds a malformed tree row for \(ref)",
                                 hint: "Restore the database from a backup.")
            }
            return state
        }
        guard let move = TreeState.transition(from: state, by: event) else {
            throw TreesError(.failure, "cannot \(event.rawValue) \(ref): it is \(state?.rawValue ?? "not recorded")",
                             hint: "Another trees process changed it; run `trees doctor` to see its state.")
        }
        return (row?[0].int, move.to)
    }

    private func setState(_ id: Int64?, _ state: TreeState?, at time: Int64, extra: String = "", _ values: [SQLValue] = []) throws {
        guard let id, let state else { return }
        try query("UPDATE trees SET state = ?, state_changed_at = ?\(extra) WHERE id = ?",
                  [.text(state.rawValue), .int(time)] + values + [.int(id)])
    }

    /// Install's intent: an `installing` row with what the tree will hold
    /// (a rev deleted before starts afresh), and its manifest.
    /// - Returns: the row.
    func beginInstall(_ ref: TreeRef, path: String, manifest: some StoredManifest) throws -> TreeRecord {
        try checkTransition(ref, .beginInstall)
        try query("""
            INSERT INTO trees (name, rev, state, path, digest, bytes, files, state_changed_at)
            VALUES (?, ?, 'installing', ?, ?, ?, ?, ?)
            ON CONFLICT (name, rev) DO UPDATE SET state = 'installing', path = excluded.path,
                digest = excluded.digest, bytes = excluded.bytes, files = excluded.files,
                state_changed_at = excluded.state_changed_at, pinned = 0,
                installed_at = NULL, activated_at = NULL, deactivated_at = NULL,
                deleted_at = NULL, delete_reason = NULL, bytes_freed = NULL,
                verdict = 'unverified', verdict_by = NULL, verdict_at = NULL, verdict_reason = NULL,
                drain_protocol = NULL
            """, [.text(ref.name.value), .text(ref.rev.value), .text(path), .text(manifest.digest),
                  .int(manifest.bytes), .int(manifest.files), .int(unixNow())])
        guard let row = try tree(ref) else { throw TreesError(.failure, "the row of \(ref) vanished during install") }
        // A rev installed again after it was deleted starts with no drain of its old life.
        _ = try cancelDrain(ref)
        try saveManifest(manifest, treeID: row.id)
        return row
    }

    /// Drops an install's intent: its tree never left staging.
    func abandonInstall(_ ref: TreeRef) throws {
        let (id, _) = try checkTransition(ref, .abandonInstall)
        if let id { try query("DELETE FROM trees WHERE id = ?", [.int(id)]) }
    }

    /// The tree is at REV: `ready`, with an `installed` history entry.
    func markInstalled(_ ref: TreeRef, detail: String) throws {
        let (id, to) = try checkTransition(ref, .markInstalled)
        let now = unixNow()
        try setState(id, to, at: now, extra: ", installed_at = ?", [.int(now)])
        try record(ref.name.value, ref.rev.value, event: .installed, detail: detail)
    }

    /// gc's mark: from now on the tree takes no new lease.
    func condemn(_ ref: TreeRef) throws {
        let (id, to) = try checkTransition(ref, .condemn)
        try setState(id, to, at: unixNow())
    }

    /// Back to `ready`: gc found it in use, could not move it, or was killed before moving it.
    func reprieve(_ ref: TreeRef) throws {
        let (id, to) = try checkTransition(ref, .reprieve)
        try setState(id, to, at: unixNow())
    }

    /// Committed before the rename into the trash.
    /// - Parameter reason: why it is deleted; nil keeps the one recorded.
    func markDeleting(_ ref: TreeRef, reason: String? = nil) throws {
        let (id, to) = try checkTransition(ref, .markDeleting)
        if let reason {
            try setState(id, to, at: unixNow(), extra: ", delete_reason = ?", [.text(reason)])
        } else {
            try setState(id, to, at: unixNow())
        }
    }

    /// The tree is gone from the disk: `deleted`, when, why and how many bytes were freed.
    /// - Parameter reason: nil keeps the reason recorded when gc condemned it (or "unused").
    func markDeleted(_ ref: TreeRef, at time: Int64, reason: String? = nil, bytesFreed: Int64 = 0) throws {
        try finishRow(ref, .markDeleted, at: time, reason: reason, bytesFreed: bytesFreed)
    }

    /// doctor: a ready tree missing on disk is recorded deleted, with the reason.
    func markMissing(_ ref: TreeRef, at time: Int64, reason: String) throws {
        try finishRow(ref, .markMissing, at: time, reason: reason, bytesFreed: 0)
    }

    private func finishRow(_ ref: TreeRef, _ event: TreeEvent, at time: Int64, reason: String?, bytesFreed: Int64) throws {
        let (id, to) = try checkTransition(ref, event)
        try setState(id, to, at: time, extra: """
            , deleted_at = ?, delete_reason = COALESCE(?, delete_reason, 'unused'),
            bytes_freed = COALESCE(bytes_freed, 0) + ?
            """, [.int(time), reason.map { .text($0) } ?? .null, .int(bytesFreed)])
    }

    /// doctor: records a tree found on disk as ready, with its manifest, as
    /// current since now if `activatedAt` is given.
    func adopt(_ ref: TreeRef, path: String, manifest: some StoredManifest, at now: Int64, activatedAt: Int64?) throws {
        try checkTransition(ref, .adopt)
        try query("""
            INSERT INTO trees (name, rev, state, path, digest, bytes, files, installed_at, activated_at, state_changed_at)
            VALUES (?, ?, 'ready', ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (name, rev) DO UPDATE SET state = 'ready', path = excluded.path, digest = excluded.digest,
                bytes = excluded.bytes, files = excluded.files, installed_at = excluded.installed_at,
                activated_at = excluded.activated_at, deactivated_at = NULL, state_changed_at = excluded.state_changed_at,
                pinned = 0, deleted_at = NULL, delete_reason = NULL, bytes_freed = NULL
            """, [.text(ref.name.value), .text(ref.rev.value), .text(path), .text(manifest.digest),
                  .int(manifest.bytes), .int(manifest.files), .int(now), activatedAt.map { .int($0) } ?? .null, .int(now)])
        guard let row = try tree(ref) else { throw TreesError(.failure, "the row of \(ref) vanished") }
        try saveManifest(manifest, treeID: row.id)
    }

    /// Stores (or replaces) the manifest of a tree: install's intent, its
    /// recovery, doctor.
    /// The body goes in pieces (`zeroblob`, then incremental writes), so a
    /// manifest is never one array in memory.
    func saveManifest(_ manifest: some StoredManifest, treeID: Int64) throws {
        try query("INSERT OR REPLACE INTO manifests (tree_id, body) VALUES (?, zeroblob(?))",
                  [.int(treeID), .int(Int64(manifest.encodedCount))])
        guard manifest.encodedCount > 0 else { return }
        try guarded { try db.writeBlob(table: "manifests", column: "body", row: treeID) { write in
            try manifest.forEachEncodedChunk(write)
        } }
    }

    // MARK: beside the state

    func setPinned(_ id: Int64, _ pinned: Bool) throws {
        try query("UPDATE trees SET pinned = ? WHERE id = ?", [.int(pinned ? 1 : 0), .int(id)])
    }

    /// Records that REV became current at `time` and `previous` stopped being so.
    func recordActivation(_ ref: TreeRef, previous: Rev?, at time: Int64) throws {
        try query("UPDATE trees SET activated_at = ?, deactivated_at = NULL WHERE name = ? AND rev = ?",
                  [.int(time), .text(ref.name.value), .text(ref.rev.value)])
        if let previous {
            try query("UPDATE trees SET deactivated_at = ? WHERE name = ? AND rev = ?",
                      [.int(time), .text(ref.name.value), .text(previous.value)])
        }
    }

    /// Gives `ref` a verdict (`Verdict.transitions`), with who and why, and a
    /// history entry. Call inside `write`.
    /// - Throws: `.notFound` (66) when the tree is not installed; `.failure`
    ///   when the table forbids the change.
    func setVerdict(_ ref: TreeRef, _ verdict: Verdict, by who: String, reason: String?, at time: Int64) throws {
        guard db.inTransaction else { throw TreesError(.failure, "verdict of \(ref) outside a write transaction") }
        guard let row = try tree(ref), Verdict.judgeableStates.contains(row.state) else {
            throw TreesError(.notFound, "no installed tree \(ref)", hint: "Only an installed tree can be marked; see trees list.")
        }
        guard row.verdict.verdict.may(become: verdict) else {
            throw TreesError(.failure, "cannot mark \(ref) \(verdict.rawValue): it is \(row.verdict.verdict.rawValue)")
        }
        try query("UPDATE trees SET verdict = ?, verdict_by = ?, verdict_at = ?, verdict_reason = ? WHERE id = ?",
                  [.text(verdict.rawValue), .text(who), .int(time), reason.map { .text($0) } ?? .null, .int(row.id)])
        try record(ref.name.value, ref.rev.value, event: verdict == .good ? .markedGood : .markedBad,
                   detail: [who, reason].compactMap { $0 }.joined(separator: ": "))
    }

    /// gc: the tree stopped being current at `time` (seen only now, the link moved without trees).
    func markDeactivated(_ id: Int64, at time: Int64) throws {
        try query("UPDATE trees SET deactivated_at = ? WHERE id = ? AND deactivated_at IS NULL", [.int(time), .int(id)])
    }

    /// doctor: the record of what is current follows the link (`current` is `rev`, or none).
    func followCurrent(_ name: TreeName, _ rev: Rev?, at now: Int64) throws {
        try query("""
            UPDATE trees SET deactivated_at = ? WHERE name = ? AND rev IS NOT ? AND activated_at IS NOT NULL
                AND deactivated_at IS NULL AND state IN ('ready', 'condemned')
            """, [.int(now), .text(name.value), rev.map { .text($0.value) } ?? .null])
        if let rev {
            try query("""
                UPDATE trees SET activated_at = COALESCE(activated_at, ?), deactivated_at = NULL
                WHERE name = ? AND rev = ? AND state = 'ready' AND (activated_at IS NULL OR deactivated_at IS NOT NULL)
                """, [.int(now), .text(name.value), .text(rev.value)])
        }
    }
}
