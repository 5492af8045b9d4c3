import CSQLite

/// A failed SQLite call: the extended result code and `sqlite3_errmsg`.
struct SQLiteError: Error, CustomStringConvertible, Sendable {
    let code: Int32
    let message: String
    var primary: Int32 { code & 0xff }
    var description: String { "\(message) (SQLite code \(code))" }
    var isBusy: Bool { primary == SQLITE_BUSY || primary == SQLITE_LOCKED }
    var isDamaged: Bool { primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB }
}
