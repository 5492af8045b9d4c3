extension Store {
    static let treeColumns = """
        id, name, rev, state, path, installed_at, activated_at, deactivated_at, bytes, files,
        digest, pinned, state_changed_at, deleted_at, delete_reason, bytes_freed
        """

    func decodeTree(_ row: [SQLValue]) throws -> TreeRecord {
        // Rows are validated on the way out too: a tampered name or rev is
        // reported, never turned into a path.
        guard let name = row[1].text, let rev = row[2].text,
              let stateText = row[3].text, let state = TreeState(rawValue: stateText) else {
            throw TreesError(.database, "state database \(path) holds a malformed tree row (id \(row[0].int ?? -1))",
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
            id: row[0].int ?? 0, ref: ref, state: state, path: row[4].text ?? "",
            installedAt: row[5].int, activatedAt: row[6].int, deactivatedAt: row[7].int,
            bytes: row[8].int ?? 0, files: row[9].int ?? 0, digest: row[10].text,
            pinned: (row[11].int ?? 0) != 0, stateChangedAt: row[12].int, deletedAt: row[13].int,
            deleteReason: row[14].text, bytesFreed: row[15].int)
    }

    /// The row for NAME@REV, whatever its state.
    public func tree(_ ref: TreeRef) throws -> TreeRecord? {
        try query("SELECT \(Store.treeColumns) FROM trees WHERE name = ? AND rev = ?",
                  [.text(ref.name.value), .text(ref.rev.value)]).first.map(decodeTree)
    }

    /// Every tree (of `name` if given), oldest install first; deleted ones only when asked.
    public func trees(name: TreeName? = nil, includeDeleted: Bool = false) throws -> [TreeRecord] {
        var sql = "SELECT \(Store.treeColumns) FROM trees WHERE 1"
        var values: [SQLValue] = []
        if let name { sql += " AND name = ?"; values.append(.text(name.value)) }
        if !includeDeleted { sql += " AND state != 'deleted'" }
        sql += " ORDER BY name, COALESCE(installed_at, 0), id"
        return try query(sql, values).map(decodeTree)
    }

    func setState(_ id: Int64, _ state: TreeState) throws {
        try query("UPDATE trees SET state = ?, state_changed_at = ? WHERE id = ?",
                  [.text(state.rawValue), .int(unixNow()), .int(id)])
    }

    /// The stored manifest of a tree (see `Manifest`).
    func manifest(treeID: Int64) throws -> [UInt8]? {
        try query("SELECT body FROM manifests WHERE tree_id = ?", [.int(treeID)]).first?.first?.blob
    }
}
