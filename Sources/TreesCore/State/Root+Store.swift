/// The root's database, opened. Here rather than in `Root` so that the
/// disk layout (FileSystem) knows nothing of the database built on it.
extension Root {
    /// Opens the store, creating the database only when `create` is set.
    ///
    /// - Throws: `.notFound` (66) when there is no database and `create` is
    ///   false; `.database` (1) for a damaged one, which is never overwritten;
    ///   `.temporary` (75) when it stays busy past the lock timeout (`Settings`).
    public func openStore(create: Bool = false) throws -> Store {
        try Store(path: databasePath, metaDirectory: meta, create: create, lockTimeout: settings.lockTimeout, treesOnDisk: { DiskInventory.hasTrees(self) })
    }

    /// Opens the store for reading only (ps, list, wait): nothing under
    /// `.trees/` is written, not even the checkpoint SQLite makes when the
    /// last read-write connection closes. An older schema is migrated by a
    /// read-write open, as before.
    public func openStoreForReading(create: Bool = false) throws -> Store {
        do {
            return try Store(path: databasePath, metaDirectory: meta, create: false, lockTimeout: settings.lockTimeout, readOnly: true)
        } catch {
            // An older schema (migrated by a writer), a missing database or
            // write-ahead log that only a read-write open may create: the
            // read-write open does and reports exactly as before.
            return try openStore(create: create)
        }
    }
}
