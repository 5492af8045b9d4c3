extension Store {
    static let treeColumns = """
        id, name, rev, state, path, installed_at, activated_at, deactivated_at, bytes, files,
        digest, pinned, state_changed_at, deleted_at, delete_reason, bytes_freed,
        verdict, verdict_by, verdict_at, verdict_reason
        """

    func decodeTree(_ row: SQLRow) throws -> TreeRecord {
        // Rows are validated on the way out too: a tampered name or rev is
        // reported, never turned into a path.
        guard let name = row["name"].text, let rev = row["rev"].text,
              let stateText = row["state"].text, let state = TreeState(rawValue: stateText) else {
            throw TreesError(.database, "state database \(path) holds a malformed tree row (id \(row["id"].int ?? -1))",
                             hint: "Restore the database from a backup.")
        }
        let ref: TreeRef
        do {
            ref = TreeRef(name: try TreeName(name), rev: try Rev(rev))
        } catch {
            throw TreesError(.database, "state database \(path) holds an invalid tree \(quoted(name))@\(quoted(rev))",
                             hint: "The row was not written by trees; restore the database from a backup.")
        }
        return TreeRecord(
            id: row["id"].int ?? 0, ref: ref, state: state, path: row["path"].text ?? "",
            installedAt: row["installed_at"].int, activatedAt: row["activated_at"].int,
            deactivatedAt: row["deactivated_at"].int, bytes: row["bytes"].int ?? 0, files: row["files"].int ?? 0,
            digest: row["digest"].text, pinned: (row["pinned"].int ?? 0) != 0,
            stateChangedAt: row["state_changed_at"].int, deletedAt: row["deleted_at"].int,
            deleteReason: row["delete_reason"].text, bytesFreed: row["bytes_freed"].int,
            verdict: VerdictRecord(verdict: try decodeVerdict(row["verdict"].text, ref), by: row["verdict_by"].text,
                                   at: row["verdict_at"].int, reason: row["verdict_reason"].text))
    }

    private func decodeVerdict(_ text: String?, _ ref: TreeRef) throws -> Verdict {
        guard let verdict = Verdict(rawValue: text ?? "unverified") else {
            throw TreesError(.database, "state database \(path) holds a malformed verdict for \(ref)",
                             hint: "Restore the database from a backup.")
        }
        return verdict
    }

    /// Runs a query whose rows are read by column name, errors translated.
    func rows(_ sql: String, _ values: [SQLValue] = []) throws -> [SQLRow] {
        try guarded { try db.rows(sql, values) }
    }

    /// The row for NAME@REV, whatever its state.
    public func tree(_ ref: TreeRef) throws -> TreeRecord? {
        try rows("SELECT \(Store.treeColumns) FROM trees WHERE name = ? AND rev = ?",
                  [.text(ref.name.value), .text(ref.rev.value)]).first.map(decodeTree)
    }

    /// Every tree (of `name` if given), oldest install first; deleted ones only when asked.
    public func trees(name: TreeName? = nil, includeDeleted: Bool = false) throws -> [TreeRecord] {
        var sql = "SELECT \(Store.treeColumns) FROM trees WHERE 1"
        var values: [SQLValue] = []
        if let name { sql += " AND name = ?"; values.append(.text(name.value)) }
        if !includeDeleted { sql += " AND state != 'deleted'" }
        sql += " ORDER BY name, COALESCE(installed_at, 0), id"
        return try rows(sql, values).map(decodeTree)
    }

    /// The stored manifest of a tree (see `Manifest`).
    /// The whole body at once: for small uses and tests. Walks read it in
    /// pieces (`readManifest`).
    func manifest(treeID: Int64) throws -> [UInt8]? {
        var body: [UInt8] = []
        return try readManifest(treeID: treeID) { body.append(contentsOf: $0) } ? body : nil
    }

    /// Whether a manifest is recorded for the tree.
    func hasManifest(treeID: Int64) throws -> Bool {
        try !query("SELECT 1 FROM manifests WHERE tree_id = ?", [.int(treeID)]).isEmpty
    }

    /// Hands the manifest's body to `body` in pieces; false when none is
    /// recorded. One read transaction covers all of it.
    func readManifest(treeID: Int64, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        try guarded { try db.readBlob(table: "manifests", column: "body", row: treeID, body) }
    }
}
