#if canImport(Glibc)
import Glibc
#endif

extension Store {
    /// The shared paths declared for `name` (for every name when nil), in name and path order.
    public func sharedDeclarations(of name: TreeName? = nil) throws -> [SharedDeclaration] {
        try rows("SELECT name, path, kind, uid, gid, mode, seed, declared_at FROM shared_paths"
                 + (name == nil ? "" : " WHERE name = ?") + " ORDER BY name, path",
                 name.map { [.text($0.value)] } ?? []).map(decodeShared)
    }

    private func decodeShared(_ row: SQLRow) throws -> SharedDeclaration {
        // Validated on the way out too: a tampered path is reported, never turned into a link.
        guard let nameText = row["name"].text, let pathText = row["path"].text, let kindText = row["kind"].text,
              let kind = SharedDeclaration.Kind(rawValue: kindText), let mode = row["mode"].int,
              (0...0o7777).contains(mode), let name = try? TreeName(nameText), let shared = try? SharedPath(pathText) else {
            throw TreesError(.database, "state database \(path) holds an invalid shared path row",
                             hint: "The row was not written by trees; restore the database from a backup.")
        }
        func id(_ column: String) -> UInt32? { row[column].int.flatMap { UInt32(exactly: $0) } }
        return SharedDeclaration(name: name, path: shared, kind: kind, uid: id("uid"), gid: id("gid"), mode: mode_t(mode),
                                 seed: (row["seed"].int ?? 0) != 0, declaredAt: row["declared_at"].int ?? 0)
    }

    /// Records a declaration, replacing one of the same NAME and PATH. Call inside `write`.
    func saveShared(_ d: SharedDeclaration) throws {
        try query("""
            INSERT INTO shared_paths (name, path, kind, uid, gid, mode, seed, declared_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(name, path) DO UPDATE SET kind = excluded.kind, uid = excluded.uid, gid = excluded.gid,
                mode = excluded.mode, seed = excluded.seed
            """, [.text(d.name.value), .text(d.path.value), .text(d.kind.rawValue),
                  d.uid.map { .int(Int64($0)) } ?? .null, d.gid.map { .int(Int64($0)) } ?? .null,
                  .int(Int64(d.mode)), .int(d.seed ? 1 : 0), .int(d.declaredAt)])
    }

    /// Forgets one declaration (the data stays); returns whether there was one. Call inside `write`.
    func forgetShared(_ name: TreeName, _ path: SharedPath) throws -> Bool {
        try query("DELETE FROM shared_paths WHERE name = ? AND path = ?", [.text(name.value), .text(path.value)])
        return db.changes > 0
    }

    /// Forgets every declaration of `name`. Call inside `write`.
    func forgetAllShared(_ name: TreeName) throws {
        try query("DELETE FROM shared_paths WHERE name = ?", [.text(name.value)])
    }
}
