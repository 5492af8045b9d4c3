#if canImport(Glibc)
import Glibc
#endif
import CSQLite

/// The state database `ROOT/.trees/state.db`: trees, leases and history.
/// It is a record, not a capability: no path read from it is ever acted on.
public final class Store {
    let db: SQLiteConnection
    public let path: String
    /// `.trees/write.lock`, taken around every write transaction when it can
    /// be opened. SQLite's busy handler sleeps and retries, so under a tight
    /// loop of writers (gc) a waiting writer can starve for seconds; a
    /// blocking `flock` wakes the next writer the moment the lock is free.
    private let writeLock: FileDescriptor?
    private var writeDepth = 0

    /// Forward-only migrations; `PRAGMA user_version` is the index of the
    /// last one applied. Never edit one that has shipped: append a new one.
    static let migrations: [String] = [
        """
        CREATE TABLE trees (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            rev TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('installing','ready','condemned','deleting','deleted')),
            path TEXT NOT NULL,
            installed_at INTEGER,
            activated_at INTEGER,
            deactivated_at INTEGER,
            bytes INTEGER NOT NULL DEFAULT 0,
            files INTEGER NOT NULL DEFAULT 0,
            digest TEXT,
            pinned INTEGER NOT NULL DEFAULT 0,
            state_changed_at INTEGER,
            deleted_at INTEGER,
            delete_reason TEXT,
            bytes_freed INTEGER,
            UNIQUE (name, rev)
        );
        CREATE TABLE manifests (
            tree_id INTEGER PRIMARY KEY REFERENCES trees(id) ON DELETE CASCADE,
            body BLOB NOT NULL
        );
        CREATE TABLE leases (
            id TEXT PRIMARY KEY,
            tree_id INTEGER NOT NULL REFERENCES trees(id),
            boot_id TEXT NOT NULL,
            pid INTEGER NOT NULL,
            start_time INTEGER NOT NULL,
            pidfd_inode INTEGER,
            uid INTEGER,
            acquired_at INTEGER NOT NULL,
            command TEXT
        );
        CREATE INDEX leases_tree ON leases(tree_id);
        CREATE TABLE history (
            id INTEGER PRIMARY KEY,
            at INTEGER NOT NULL,
            name TEXT NOT NULL,
            rev TEXT NOT NULL,
            event TEXT NOT NULL,
            previous TEXT,
            detail TEXT
        );
        CREATE INDEX history_name ON history(name, id);
        """,
        // 2: the job's own cgroup (`trees exec --cgroup`), relative to the cgroup v2 mount.
        "ALTER TABLE leases ADD COLUMN cgroup TEXT;",
    ]

    static var schemaVersion: Int64 { Int64(migrations.count) }

    /// Thrown by a read-only open that finds the schema older than this
    /// trees: the caller opens read-write instead, which migrates.
    struct NeedsMigration: Error {}

    /// - Parameter readOnly: for readers (ps, list, wait): a read-only
    ///   connection never checkpoints the write-ahead log on close, so
    ///   reading writes nothing under `.trees/`. Throws `NeedsMigration`
    ///   when the schema is older than this trees.
    init(path: String, metaDirectory: Directory, create: Bool, readOnly: Bool = false) throws {
        self.path = path
        if readOnly {
            writeLock = nil
        } else {
            let lockFD = openat(metaDirectory.fd, "write.lock", O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
            writeLock = lockFD >= 0 ? FileDescriptor(lockFD) : nil
        }
        if (!create || readOnly) && access(path, F_OK) != 0 {
            throw TreesError(.notFound, "no state database at \(path)",
                             hint: "Nothing has been installed under this root yet; check --root or TREES_ROOT.")
        }
        do {
            db = try SQLiteConnection(path: path, create: create && !readOnly, readOnly: readOnly,
                                      busyTimeoutMilliseconds: Int32(Store.lockTimeout * 1000))
        } catch let e as SQLiteError {
            throw Store.translate(e, path: path)
        }
        try guarded {
            // A damaged file fails here, on the first read, before anything is written.
            let version = try db.query("PRAGMA user_version").first?.first?.int ?? 0
            if version > Store.schemaVersion {
                throw TreesError(.database, "state database \(path) has schema version \(version), newer than this trees (\(Store.schemaVersion))",
                                 hint: "Upgrade trees; an older trees never writes to a newer database.")
            }
            if version < Store.schemaVersion {
                if readOnly { throw NeedsMigration() }
                try migrate(metaDirectory: metaDirectory)
            }
            try db.execute("PRAGMA foreign_keys = ON")
        }
    }

    /// Applies pending migrations under `.trees/migrate.lock`, so that several
    /// processes opening a new root at once migrate it exactly once.
    private func migrate(metaDirectory: Directory) throws {
        let lockFD = try syscall("cannot open lock file", "\(metaDirectory.path)/migrate.lock") {
            openat(metaDirectory.fd, "migrate.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
        }
        let lock = FileDescriptor(lockFD)
        _ = try lockFile(lock.raw, wait: true, path: "\(metaDirectory.path)/migrate.lock")
        // WAL lets readers (ps, list, wait) run while a writer commits.
        try db.execute("PRAGMA journal_mode = WAL")
        try db.writeTransaction {
            let version = try db.query("PRAGMA user_version").first?.first?.int ?? 0
            guard version < Store.schemaVersion else { return }
            for index in Int(version)..<Store.migrations.count {
                try db.execute(Store.migrations[index])
            }
            try db.execute("PRAGMA user_version = \(Store.schemaVersion)")
        }
        withExtendedLifetime(lock) {}
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
                              hint: "Check that it is readable and writable by this user (and its directory too), or use another --root.")
        case SQLITE_FULL:
            return TreesError(.temporary, "state database \(path): \(e.message)",
                              hint: "Free space on its filesystem and try again.")
        default:
            return TreesError(.database, "state database \(path): \(e.message)")
        }
    }

    /// How long a command waits for a busy database before giving up with
    /// status 75: `TREES_LOCK_TIMEOUT` seconds, default 30.
    static let lockTimeout: Double = {
        if let v = getenv("TREES_LOCK_TIMEOUT"), let seconds = Double(String(cString: v)), seconds >= 0 { return seconds }
        return 30
    }()

    /// Takes `.trees/write.lock`, polling finely so that a hung holder makes
    /// this fail with 75 after the lock timeout instead of blocking forever.
    private func takeWriteLock(_ fd: Int32) throws {
        let deadline = monotonicNow() + Store.lockTimeout
        var pause: useconds_t = 500
        while true {
            if try lockFile(fd, wait: false, path: path) { return }
            if monotonicNow() >= deadline {
                throw TreesError(.temporary, "state database \(path) is busy: another trees process holds its write lock",
                                 hint: "Try again later; if it persists, look for a hung trees process (fuser \(path)).")
            }
            usleep(pause)
            pause = min(pause * 2, 4000)
        }
    }

    /// Runs `body`, turning SQLite errors into `TreesError`s.
    func guarded<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as SQLiteError { throw Store.translate(e, path: path) }
    }

    /// A `BEGIN IMMEDIATE` transaction with errors translated.
    @discardableResult
    public func write<T>(_ body: () throws -> T) throws -> T {
        if let writeLock, writeDepth == 0 {
            try takeWriteLock(writeLock.raw)
        }
        writeDepth += 1
        defer {
            writeDepth -= 1
            if let writeLock, writeDepth == 0 { _ = flock(writeLock.raw, LOCK_UN) }
        }
        return try guarded { try db.writeTransaction(body) }
    }

    @discardableResult
    func query(_ sql: String, _ values: [SQLValue] = []) throws -> [[SQLValue]] {
        try guarded { try db.query(sql, values) }
    }

    func record(_ name: String, _ rev: String, event: String, previous: String? = nil, detail: String? = nil) throws {
        try query("INSERT INTO history (at, name, rev, event, previous, detail) VALUES (?, ?, ?, ?, ?, ?)",
                  [.int(unixNow()), .text(name), .text(rev), .text(event),
                   previous.map { .text($0) } ?? .null, detail.map { .text($0) } ?? .null])
    }
}
