#if canImport(Glibc)
import Glibc
#endif
import CSQLite

/// The state database `ROOT/.trees/state.db`: trees, leases and history.
/// It is a record, not a capability: no path read from it is ever acted on.
public final class Store {
    let db: SQLiteConnection
    public let path: String
    /// How long to wait for a busy database or its write lock before 75.
    let lockTimeout: Double
    /// `.trees/write.lock`, taken around every write transaction when it can
    /// be opened. SQLite's busy handler sleeps and retries, so under a tight
    /// loop of writers (gc) a waiting writer can starve for seconds; a
    /// blocking `flock` wakes the next writer the moment the lock is free.
    private let writeLock: FileDescriptor?
    private var writeDepth = 0
    /// Whether this store committed a write (so deinit may checkpoint).
    private var wrote = false

    static var schemaVersion: Int64 { Int64(migrations.count) }

    /// `PRAGMA application_id` of a trees database ("TREE"): a file without
    /// it is someone else's, and trees never adds its tables to it.
    static let applicationID: Int64 = 0x5452_4545

    /// Thrown by a read-only open that finds the schema older than this
    /// trees (or not yet stamped): the caller opens read-write instead,
    /// which migrates.
    struct NeedsMigration: Error {}

    /// Opens the database, creating it only when `create` is set and only
    /// where no tree is installed yet.
    ///
    /// A missing or empty (zero-byte, or without a single table) database
    /// beside installed trees is an error, never re-created: a fresh one
    /// would answer "no trees" and let installs reuse revs that exist on
    /// disk. A file that is SQLite but not trees' (another application_id,
    /// or tables that are not trees') is refused and left untouched.
    /// - Parameters:
    ///   - lockTimeout: seconds to wait for a busy database or its write lock.
    ///   - readOnly: for readers (ps, list, wait): a read-only connection
    ///     never checkpoints the write-ahead log on close, so reading writes
    ///     nothing under `.trees/`. Throws `NeedsMigration` when the schema
    ///     is older than this trees.
    ///   - treesOnDisk: whether any tree exists under the root (asked only
    ///     when the database is missing or empty).
    ///   - rebuild: `trees doctor --repair` rebuilding the database from the
    ///     trees on disk; an empty or missing one may then be created.
    init(path: String, metaDirectory: Directory, create: Bool, lockTimeout: Double, readOnly: Bool = false,
         treesOnDisk: () -> Bool = { false }, rebuild: Bool = false) throws {
        self.path = path
        self.lockTimeout = lockTimeout
        if readOnly {
            writeLock = nil
        } else {
            writeLock = try? RootLock.write.open(in: metaDirectory)
        }
        if access(path, F_OK) != 0 {
            if !rebuild && treesOnDisk() { throw Store.unusable(path, "is missing") }
            if !create || readOnly {
                throw TreesError(.notFound, "no state database at \(path)",
                                 hint: "Nothing has been installed under this root yet; check --root or TREES_ROOT.")
            }
            try Store.createPrivately(in: metaDirectory)
        }
        if !readOnly { Store.makePrivate(Store.databaseFiles, in: metaDirectory) }
        do {
            db = try SQLiteConnection(path: path, create: create && !readOnly, readOnly: readOnly,
                                      busyTimeoutMilliseconds: Int32(lockTimeout * 1000))
        } catch let e as SQLiteError {
            throw Store.translate(e, path: path)
        }
        try guarded {
            // A damaged file fails here, on the first read, before anything is written.
            let (version, appID) = try identity()
            if appID != 0 && appID != Store.applicationID { throw Store.foreign(path, "its application_id is \(appID)") }
            if version > Store.schemaVersion {
                throw TreesError(.database, "state database \(path) has schema version \(version), newer than this trees (\(Store.schemaVersion))",
                                 hint: "Upgrade trees; an older trees never writes to a newer database.")
            }
            // A current database from before application_id that this user
            // may only read is used as it is; its owner's next command marks it.
            let readOnlyLegacy = version == Store.schemaVersion && access(path, W_OK) != 0
            if version < Store.schemaVersion || (appID == 0 && !readOnlyLegacy) {
                if readOnly { throw NeedsMigration() }
                try migrate(metaDirectory: metaDirectory, treesOnDisk: { !rebuild && treesOnDisk() })
            }
            try db.execute(Store.connectionPragmas)
        }
    }

    /// `PRAGMA user_version` and `PRAGMA application_id`.
    private func identity() throws -> (version: Int64, applicationID: Int64) {
        (try db.query("PRAGMA user_version").first?.first?.int ?? 0,
         try db.query("PRAGMA application_id").first?.first?.int ?? 0)
    }

    static func unusable(_ path: String, _ what: String) -> TreesError {
        TreesError(.database, "state database \(path) \(what), but trees are installed beside it",
                   hint: "trees never re-creates it there (it would forget those trees). Run `trees doctor --repair` to rebuild it from the trees on disk, or restore it from a backup.")
    }

    static func foreign(_ path: String, _ why: String) -> TreesError {
        TreesError(.database, "\(path) is not a trees state database (\(why))",
                   hint: "trees never writes to it. Restore trees' database from a backup, or run `trees doctor --repair`, which moves it aside and rebuilds trees' database from the trees on disk.")
    }

    /// Per-connection settings. `journal_size_limit` makes SQLite truncate
    /// the WAL whenever it resets it, so it never keeps the size of its
    /// largest burst; with `PERSIST_WAL` and every process the only
    /// connection, each open re-reads the whole WAL (recovery), so its size
    /// is exec's cost. `synchronous = FULL` stays the default (gc and install
    /// act on the disk after a commit and need it durable first); a lease
    /// write relaxes it (`write(durable: false)`).
    static let connectionPragmas = """
        PRAGMA foreign_keys = ON;
        PRAGMA journal_size_limit = \(Store.walCheckpointBytes);
        PRAGMA synchronous = FULL;
        """

    /// The WAL size past which closing a store that wrote checkpoints and
    /// truncates it. Each exec appends about 14 KB, so one in about twenty
    /// pays for a checkpoint (one fsync of the database) and every open
    /// re-reads at most this much.
    static let walCheckpointBytes: Int64 = 256 * 1024

    /// Copies the WAL into the database and truncates it
    /// (`wal_checkpoint(TRUNCATE)`). gc calls it when it ends; a reader that
    /// holds an old snapshot makes it a no-op, retried by the next writer.
    public func checkpoint() throws {
        try guarded { _ = try db.checkpoint() }
    }

    /// Without waiting: a busy database (gc mid-transaction) leaves the
    /// checkpoint to the next process that closes, and exec never stalls on it.
    deinit {
        if wrote && db.walBytes > Store.walCheckpointBytes { _ = try? db.checkpoint(wait: false) }
    }

    /// Applies pending migrations under `.trees/migrate.lock`, so that several
    /// processes opening a new root at once migrate it exactly once. What the
    /// file is gets decided again under the lock: another process may have
    /// created the schema meanwhile.
    private func migrate(metaDirectory: Directory, treesOnDisk: () -> Bool) throws {
        try RootLock.migrate.hold(in: metaDirectory, waitingUpTo: lockTimeout) { _ in try migrateLocked(treesOnDisk: treesOnDisk) }
    }

    private func migrateLocked(treesOnDisk: () -> Bool) throws {
        let (version, appID) = try identity()
        if appID != 0 && appID != Store.applicationID { throw Store.foreign(path, "its application_id is \(appID)") }
        let tables = try db.query("SELECT name FROM sqlite_master WHERE type = 'table'").compactMap { $0.first?.text }
        if appID == 0 {
            if version == 0 && !tables.isEmpty {
                throw Store.foreign(path, "it holds tables \(tables.prefix(5).joined(separator: ", ")) and no trees schema")
            }
            if version > 0 && !tables.contains("trees") {
                throw Store.foreign(path, "user_version \(version) without a trees table")
            }
            if version == 0 && treesOnDisk() { throw Store.unusable(path, "is empty") }
        }
        if version == Store.schemaVersion && appID == Store.applicationID { return }
        // WAL lets readers (ps, list, wait) run while a writer commits.
        try db.execute("PRAGMA journal_mode = WAL")
        try db.writeTransaction {
            let (version, _) = try identity()
            for index in Int(version)..<Store.migrations.count {
                try db.execute(Store.migrations[index])
            }
            // A database from before application_id gets it here, once.
            try db.execute("PRAGMA application_id = \(Store.applicationID)")
            try db.execute("PRAGMA user_version = \(Store.schemaVersion)")
        }
    }

    /// Maps SQLite failures to what the user can act on.
    static func translate(_ e: SQLiteError, path: String) -> TreesError {
        if e.isDamaged {
            return TreesError(.database, "state database \(path) is damaged or not a database: \(e.message)",
                              hint: "trees never overwrites or repairs it. Restore it from a backup, or move it aside and reinstall the trees you need.")
        }
        if e.isBusy {
            return TreesError(.temporary, "state database \(path) is busy: \(e.message)",
                              hint: "Another trees process held it for too long; try again.")
        }
        switch e.primary {
        case SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_READONLY, SQLITE_AUTH:
            return TreesError(.database, "cannot use state database \(path): \(e.message)",
                              hint: "Only the operator (the owner of the root's .trees directory) or root may open it: run this command as that user, or use another --root.")
        case SQLITE_FULL:
            return TreesError(.temporary, "state database \(path): \(e.message)",
                              hint: "Free space on its filesystem and try again.")
        default:
            return TreesError(.database, "state database \(path): \(e.message)")
        }
    }


    /// Takes `.trees/write.lock`, polling finely so that a hung holder makes
    /// this fail with 75 (naming it) after the lock timeout instead of
    /// blocking forever.
    private func takeWriteLock(_ fd: Int32) throws {
        let lockPath = path.hasSuffix("/state.db") ? String(path.dropLast(8)) + "write.lock" : path
        _ = try lockFile(fd, waitingUpTo: lockTimeout, path: lockPath)
    }

    /// Runs `body`, turning SQLite errors into `TreesError`s.
    func guarded<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as SQLiteError { throw Store.translate(e, path: path) }
    }

    /// A `BEGIN IMMEDIATE` transaction with errors translated.
    ///
    /// - Parameter durable: false lets the commit reach the disk with the
    ///   next checkpoint instead of at once (`synchronous = NORMAL`: it
    ///   survives a crash of the process, not of the machine). Only for
    ///   leases: a lease from before a machine crash is dead by its boot id
    ///   anyway, and it saves exec an fsync.
    @discardableResult
    public func write<T>(durable: Bool = true, _ body: () throws -> T) throws -> T {
        try serialized {
            let relax = !durable && writeDepth == 1
            if relax { try guarded { try db.execute("PRAGMA synchronous = NORMAL") } }
            defer { if relax { try? db.execute("PRAGMA synchronous = FULL") } }
            let result = try guarded { try db.writeTransaction(body) }
            wrote = true
            return result
        }
    }

    /// The write lock's descriptor, borrowed from the store that owns it.
    private var writeLockFD: Int32? {
        switch writeLock {
        case .some(let file): file.raw
        case .none: nil
        }
    }

    /// Runs `body` holding `.trees/write.lock`, so that several transactions
    /// and the file work between them (write an intent, rename, write the
    /// outcome) are one step to every other writer. Re-entrant; each `write`
    /// inside commits on its own, so a crash between them leaves the intent
    /// for recovery to finish or undo.
    public func serialized<T>(_ body: () throws -> T) throws -> T {
        if writeDepth == 0, let fd = writeLockFD {
            try takeWriteLock(fd)
        }
        writeDepth += 1
        defer {
            writeDepth -= 1
            if writeDepth == 0, let fd = writeLockFD { _ = flock(fd, LOCK_UN) }
        }
        return try body()
    }

    @discardableResult
    func query(_ sql: String, _ values: [SQLValue] = []) throws -> [[SQLValue]] {
        try guarded { try db.query(sql, values) }
    }

    func record(_ name: String, _ rev: String, event: HistoryEvent, previous: String? = nil, detail: String? = nil) throws {
        try query("INSERT INTO history (at, name, rev, event, previous, detail) VALUES (?, ?, ?, ?, ?, ?)",
                  [.int(unixNow()), .text(name), .text(rev), .text(event.rawValue),
                   previous.map { .text($0) } ?? .null, detail.map { .text($0) } ?? .null])
    }
}
