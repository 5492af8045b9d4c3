import CSQLite

// SQLite's destructor sentinel meaning "copy the bytes now".
private let SQLITE_TRANSIENT = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

/// A prepared statement, finalised when it goes away.
final class SQLiteStatement {
    /// Unowned: the connection keeps its statements (`SQLiteConnection.prepare`)
    /// and finalises them before it closes.
    unowned let connection: SQLiteConnection
    let stmt: OpaquePointer

    init(connection: SQLiteConnection, stmt: OpaquePointer) {
        self.connection = connection
        self.stmt = stmt
    }

    deinit { sqlite3_finalize(stmt) }

    /// Ends this use: resets the statement (ending its read of the database
    /// even after an error part-way) and drops its bound values, so that a
    /// kept statement holds neither a transaction nor a copy of a blob.
    func finish() {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
    }

    func bind(_ values: [SQLValue]) throws {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
        for (i, value) in values.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(stmt, index)
            case .int(let v): rc = sqlite3_bind_int64(stmt, index, v)
            case .text(let s): rc = sqlite3_bind_text(stmt, index, s, -1, SQLITE_TRANSIENT)
            case .blob(let b):
                rc = b.withUnsafeBytes { sqlite3_bind_blob(stmt, index, $0.baseAddress, Int32($0.count), SQLITE_TRANSIENT) }
            }
            if rc != SQLITE_OK { throw connection.error(rc) }
        }
    }

    /// Steps once; returns the row, or nil when done.
    func step() throws -> [SQLValue]? {
        let rc = sqlite3_step(stmt)
        if rc == SQLITE_DONE { return nil }
        guard rc == SQLITE_ROW else { throw connection.error(rc) }
        let count = sqlite3_column_count(stmt)
        var row: [SQLValue] = []
        row.reserveCapacity(Int(count))
        for i in 0..<count {
            switch sqlite3_column_type(stmt, i) {
            case SQLITE_INTEGER: row.append(.int(sqlite3_column_int64(stmt, i)))
            case SQLITE_NULL: row.append(.null)
            case SQLITE_BLOB:
                let n = Int(sqlite3_column_bytes(stmt, i))
                if n == 0 { row.append(.blob([])) } else {
                    let p = sqlite3_column_blob(stmt, i)!
                    row.append(.blob(Array(UnsafeRawBufferPointer(start: p, count: n))))
                }
            default:
                if let p = sqlite3_column_text(stmt, i) {
                    row.append(.text(String(cString: p)))
                } else {
                    row.append(.null)
                }
            }
        }
        return row
    }
}
