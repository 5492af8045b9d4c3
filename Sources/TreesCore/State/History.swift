#if canImport(Glibc)
import Glibc
#endif

/// One entry of the `history` table: a state change, written in the same
/// transaction as the change itself (see `Store.record`).
public struct HistoryEntry: Sendable, Equatable {
    public var id: Int64
    /// Unix seconds.
    public var at: Int64
    public var name: String
    public var rev: String
    /// `installed`, `activated`, `rolled-back`, `pinned`, `unpinned`,
    /// `lease-refused`, `gc-kept`, `deleted`.
    public var event: String
    /// For `activated` and `rolled-back`: the revision current before.
    public var previous: String?
    /// The reason or detail: a digest, a gc reason, why a lease was refused.
    public var detail: String?
}

extension Store {
    /// History entries, oldest first, of `name` if given, at or after `since` (unix seconds) if given.
    public func history(name: TreeName? = nil, since: Int64? = nil) throws -> [HistoryEntry] {
        var sql = "SELECT id, at, name, rev, event, previous, detail FROM history WHERE 1"
        var values: [SQLValue] = []
        if let name { sql += " AND name = ?"; values.append(.text(name.value)) }
        if let since { sql += " AND at >= ?"; values.append(.int(since)) }
        sql += " ORDER BY id"
        return try query(sql, values).map {
            HistoryEntry(id: $0[0].int ?? 0, at: $0[1].int ?? 0, name: $0[2].text ?? "", rev: $0[3].text ?? "",
                         event: $0[4].text ?? "", previous: $0[5].text, detail: $0[6].text)
        }
    }

    /// Deletes history entries older than `before` (unix seconds); returns how many.
    /// The latest `activated` entry of each tree is kept whatever its age:
    /// `rollback` reads the previous revision from it.
    @discardableResult
    public func pruneHistory(before: Int64) throws -> Int {
        try write {
            try query("""
                DELETE FROM history WHERE at < ? AND id NOT IN
                    (SELECT MAX(id) FROM history WHERE event = 'activated' GROUP BY name, rev)
                """, [.int(before)])
            return db.changes
        }
    }
}
