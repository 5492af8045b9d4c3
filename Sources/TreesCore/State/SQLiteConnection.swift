import CSQLite
#if canImport(Glibc)
import Glibc
#endif

/// A small wrapper over the system libsqlite3: one connection, prepared
/// statements finalised in `deinit`, and `BEGIN IMMEDIATE` for every write.
///
/// Chosen over GRDB.swift by measurement, since `trees exec` opens the
/// database once per job: open + one `BEGIN IMMEDIATE` insert took 4.0-4.9 ms
/// and 8 MB peak RSS with this wrapper, 8.3-10.2 ms and 21 MB with GRDB 7.10
/// (which loads full Foundation and ICU), release builds, hyperfine, 100 runs.
final class SQLiteConnection {
    let db: OpaquePointer
    let path: String
    let busyTimeoutMilliseconds: Int32

    /// Opens `path`; creates it only when `create` is true.
    init(path: String, create: Bool, readOnly: Bool = false, busyTimeoutMilliseconds: Int32 = 30_000) throws {
        var handle: OpaquePointer?
        var flags = readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE
        if create && !readOnly { flags |= SQLITE_OPEN_CREATE }
        flags |= SQLITE_OPEN_NOMUTEX
        var name = path
        if readOnly {
            // `readonly_shm`: the -shm index is mapped read-only, so a reader
            // writes nothing at all (SQLite builds a private index in memory
            // when no writer has initialised the shared one).
            flags |= SQLITE_OPEN_URI
            name = "file:" + SQLiteConnection.uriEscaped(path) + "?readonly_shm=1"
        }
        let rc = sqlite3_open_v2(name, &handle, flags, nil)
        guard rc == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            if let handle { sqlite3_close_v2(handle) }
            throw SQLiteError(code: rc, message: message)
        }
        db = handle
        self.path = path
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        sqlite3_extended_result_codes(db, 1)
        waitWhenBusy(upTo: busyTimeoutMilliseconds)
        if !readOnly {
            // Keep -wal and -shm after the last writer closes: a read-only
            // connection (the operator's `ps`, `list` and `wait`) can then
            // use WAL without writing anything, which needs both files to exist.
            var persist: Int32 = 1
            sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist)
            // No checkpoint when the last connection closes: it cost two
            // fsyncs and a copy of every page written into the database on
            // every `trees exec`. The owner checkpoints instead, when the WAL
            // passes a size (`checkpointIfLarge`), and SQLite's automatic
            // checkpoint still runs at 1,000 pages.
            CT_sqlite3_db_config_int(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1)
        }
    }

    /// Bytes in the write-ahead log now (0 if it does not exist).
    var walBytes: Int64 {
        var st = stat()
        return stat(path + "-wal", &st) == 0 ? Int64(st.st_size) : 0
    }

    /// `PRAGMA wal_checkpoint(TRUNCATE)`: copies every committed page into
    /// the database and truncates the WAL to zero bytes. Returns false when
    /// a reader or writer kept it from completing (it is then retried later).
    /// - Parameter wait: false gives up at once instead of waiting up to the
    ///   busy timeout, for a process (exec) that must not wait on gc.
    @discardableResult
    func checkpoint(wait: Bool = true) throws -> Bool {
        var logFrames: Int32 = 0
        var checkpointed: Int32 = 0
        if !wait { waitWhenBusy(upTo: 0) }
        defer { if !wait { waitWhenBusy(upTo: busyTimeoutMilliseconds) } }
        let rc = sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_TRUNCATE, &logFrames, &checkpointed)
        if rc == SQLITE_BUSY || rc == SQLITE_LOCKED { return false }
        if rc != SQLITE_OK { throw error(rc) }
        return true
    }

    /// Retries a busy database every millisecond for up to `milliseconds`
    /// (0: fails at once). `sqlite3_busy_timeout` backs off to 100 ms
    /// sleeps (1, 2, 5, 10, 15, 20, 25… ms): a `trees exec` that met gc's
    /// checkpoint of a few milliseconds slept through three times as long,
    /// which was most of exec's slowest percent beside a looping gc.
    private func waitWhenBusy(upTo milliseconds: Int32) {
        guard milliseconds > 0 else {
            sqlite3_busy_handler(db, nil, nil)
            return
        }
        // The bound travels in the context pointer: the handler is a C
        // function and captures nothing.
        sqlite3_busy_handler(db, { context, retries in
            guard retries < Int32(truncatingIfNeeded: Int(bitPattern: context)) else { return 0 }
            usleep(1000)
            return 1
        }, UnsafeMutableRawPointer(bitPattern: Int(milliseconds)))
    }

    deinit {
        statements.removeAll()  // finalised before the close, which then completes
        sqlite3_close_v2(db)
    }

    /// A path as the path part of an SQLite `file:` URI: `%`, `?` and `#`
    /// (and any byte outside printable ASCII) percent-encoded.
    static func uriEscaped(_ path: String) -> String {
        var out = ""
        for byte in path.utf8 {
            if byte > 0x20 && byte < 0x7f && byte != UInt8(ascii: "%") && byte != UInt8(ascii: "?") && byte != UInt8(ascii: "#") {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte >> 4, radix: 16) + String(byte & 0xf, radix: 16)
            }
        }
        return out
    }

    func error(_ rc: Int32) -> SQLiteError {
        SQLiteError(code: sqlite3_extended_errcode(db) != 0 ? sqlite3_extended_errcode(db) : rc,
                    message: String(cString: sqlite3_errmsg(db)))
    }

    /// Runs one or more statements that return no rows.
    func execute(_ sql: String) throws {
        let rc = sqlite3_exec(db, sql, nil, nil, nil)
        if rc != SQLITE_OK { throw error(rc) }
    }

    /// Statements prepared on this connection, by their SQL, kept for the
    /// next use: gc judging 10,000 trees ran the same few statements for
    /// each, and parsing them again was a third of its time. Every use runs
    /// a statement to its end before another begins (`query`, `rows`), and
    /// `bind` resets it first; at most `maxStatements` are kept.
    private var statements: [String: SQLiteStatement] = [:]
    static let maxStatements = 128

    func prepare(_ sql: String) throws -> SQLiteStatement {
        if let known = statements[sql] { return known }
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc) }
        let statement = SQLiteStatement(connection: self, stmt: stmt)
        if statements.count >= Self.maxStatements { statements.removeAll() }
        statements[sql] = statement
        return statement
    }

    /// Runs `sql` with `values` and returns every row.
    @discardableResult
    func query(_ sql: String, _ values: [SQLValue] = []) throws -> [[SQLValue]] {
        let stmt = try prepare(sql)
        defer { stmt.finish() }
        try stmt.bind(values)
        var rows: [[SQLValue]] = []
        while let row = try stmt.step() { rows.append(row) }
        return rows
    }

    /// Writes a blob that was inserted as `zeroblob(N)` in pieces, through
    /// SQLite's incremental I/O: a manifest of a million files never has to
    /// be one array. `body` gets a function that writes the next bytes.
    func writeBlob(table: String, column: String, row: Int64,
                   _ body: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        var blob: OpaquePointer?
        let rc = sqlite3_blob_open(db, "main", table, column, row, 1, &blob)
        guard rc == SQLITE_OK, let blob else { throw error(rc) }
        defer { sqlite3_blob_close(blob) }
        let size = Int(sqlite3_blob_bytes(blob))
        var offset = 0
        try body { bytes in
            guard bytes.count > 0 else { return }
            guard offset + bytes.count <= size else {
                throw SQLiteError(code: SQLITE_MISUSE, message: "blob of \(size) bytes written past its end")
            }
            let rc = sqlite3_blob_write(blob, bytes.baseAddress, Int32(bytes.count), Int32(offset))
            if rc != SQLITE_OK { throw self.error(rc) }
            offset += bytes.count
        }
        guard offset == size else {
            throw SQLiteError(code: SQLITE_MISUSE, message: "blob of \(size) bytes given \(offset)")
        }
    }

    /// Hands a blob to `body` in chunks (SQLite's incremental I/O); false
    /// when the row does not exist.
    func readBlob(table: String, column: String, row: Int64, chunk: Int = 1 << 16,
                  _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        var blob: OpaquePointer?
        let rc = sqlite3_blob_open(db, "main", table, column, row, 0, &blob)
        if rc == SQLITE_ERROR, blob == nil, String(cString: sqlite3_errmsg(db)).hasPrefix("no such rowid") { return false }
        guard rc == SQLITE_OK, let blob else { throw error(rc) }
        defer { sqlite3_blob_close(blob) }
        let size = Int(sqlite3_blob_bytes(blob))
        var buffer = [UInt8](repeating: 0, count: min(chunk, max(size, 1)))
        var offset = 0
        while offset < size {
            let n = min(buffer.count, size - offset)
            let rc = buffer.withUnsafeMutableBytes { sqlite3_blob_read(blob, $0.baseAddress, Int32(n), Int32(offset)) }
            if rc != SQLITE_OK { throw error(rc) }
            try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            offset += n
        }
        return true
    }

    var changes: Int { Int(sqlite3_changes(db)) }
    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(db) }
    /// Whether a transaction is open (`sqlite3_get_autocommit` is 0).
    var inTransaction: Bool { sqlite3_get_autocommit(db) == 0 }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction: the write lock is taken
    /// up front (waiting up to the busy timeout), so two writers never
    /// deadlock upgrading a read lock. Rolls back if `body` throws.
    func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }
}
