import CSQLite

/// One result row whose values are read by column name, so a query's column
/// order can change without silently shifting every field after it.
struct SQLRow {
    let values: [SQLValue]
    let columns: [String: Int]

    /// The value of `column`; `.null` for a column the query did not select,
    /// which the decoders treat like a missing value.
    subscript(_ column: String) -> SQLValue {
        guard let i = columns[column], i < values.count else { return .null }
        return values[i]
    }
}

extension SQLiteStatement {
    /// The result columns' names (`sqlite3_column_name`), as the query spelled
    /// them or as their `AS` aliases give them.
    var columnNames: [String: Int] {
        var names: [String: Int] = [:]
        for i in 0..<sqlite3_column_count(stmt) {
            if let name = sqlite3_column_name(stmt, i) { names[String(cString: name)] = Int(i) }
        }
        return names
    }
}

extension SQLiteConnection {
    /// Runs `sql` with `values` and returns every row, read by column name.
    func rows(_ sql: String, _ values: [SQLValue] = []) throws -> [SQLRow] {
        let stmt = try prepare(sql)
        defer { stmt.finish() }
        try stmt.bind(values)
        let columns = stmt.columnNames
        var rows: [SQLRow] = []
        while let row = try stmt.step() { rows.append(SQLRow(values: row, columns: columns)) }
        return rows
    }
}
