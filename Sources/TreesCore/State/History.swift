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
    /// A `HistoryEvent`'s raw value (kept as text: an entry written by a
    /// newer trees is still shown).
    public var event: String
    /// For `activated` and `rolled-back`: the revision current before.
    public var previous: String?
    /// The reason or detail: a digest, a gc reason, why a lease was refused.
    public var detail: String?
}

extension Store {
    /// History entries, oldest first, of `name` if given, at or after `since` (unix seconds) if given.
    public func history(name: TreeName? = nil, since: Int64? = nil) throws -> [HistoryEntry] {
        // An activation's intent (written before `current` moves) is for
        // recovery, not for the reader: its outcome follows it as `activated`.
        var sql = "SELECT id, at, name, rev, event, previous, detail FROM history WHERE event != ?"
        var values: [SQLValue] = [.text(HistoryEvent.activating.rawValue)]
        if let name { sql += " AND name = ?"; values.append(.text(name.value)) }
        if let since { sql += " AND at >= ?"; values.append(.int(since)) }
        sql += " ORDER BY id"
        return try rows(sql, values).map {
            HistoryEntry(id: $0["id"].int ?? 0, at: $0["at"].int ?? 0, name: $0["name"].text ?? "", rev: $0["rev"].text ?? "",
                         event: $0["event"].text ?? "", previous: $0["previous"].text, detail: $0["detail"].text)
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

    /// The revision that was current before `ref` last became current (its latest `activated` entry).
    func previousRev(_ ref: TreeRef) throws -> String? {
        try query("""
            SELECT previous FROM history WHERE name = ? AND rev = ? AND event = 'activated'
            ORDER BY id DESC LIMIT 1
            """, [.text(ref.name.value), .text(ref.rev.value)]).first?.first?.text
    }

    /// The latest entry whose event is one of `events` of each name (of `name` if given).
    func latestActivationEvents(_ name: TreeName?, events: [HistoryEvent]) throws -> [(name: String, rev: String, previous: String?, event: HistoryEvent, detail: String?)] {
        let filter = name == nil ? "" : " AND name = ?"
        let placeholders = events.map { _ in "?" }.joined(separator: ", ")
        let sql = """
            SELECT h.name, h.rev, h.previous, h.event, h.detail FROM history h JOIN (
                SELECT MAX(id) AS id FROM history WHERE event IN (\(placeholders))\(filter) GROUP BY name
            ) latest ON h.id = latest.id
            """
        var values: [SQLValue] = events.map { .text($0.rawValue) }
        if let name { values.append(.text(name.value)) }
        return try query(sql, values).compactMap { row in
            guard let n = row[0].text, let r = row[1].text, let e = row[3].text.flatMap(HistoryEvent.init(rawValue:)) else { return nil }
            return (n, r, row[2].text, e, row[4].text)
        }
    }
}
