import CSQLite

/// A failed SQLite call: the extended result code and `sqlite3_errmsg`.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let message: String
    public var primary: Int32 { code & 0xff }
    public var description: String { "\(message) (SQLite code \(code))" }
    public var isBusy: Bool { primary == SQLITE_BUSY || primary == SQLITE_LOCKED }
    public var isDamaged: Bool { primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB }
}
