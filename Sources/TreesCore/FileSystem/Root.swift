#if canImport(Glibc)
import Glibc
#endif

/// The directory holding everything: `ROOT/.trees/state.db`, staging, trash
/// and one directory per name. Default `/srv/trees`.
public final class Root: @unchecked Sendable {
    public static let defaultPath = "/srv/trees"

    /// The canonical absolute path (symlinks resolved), so that paths read
    /// from /proc, which are always canonical, can be matched against it.
    public let path: String
    let dir: Directory
    let meta: Directory

    /// `--root`, else `TREES_ROOT`, else `/srv/trees`.
    public static func location(option: String?) -> String {
        if let option, !option.isEmpty { return option }
        if let env = getenv("TREES_ROOT"), env.pointee != 0 { return String(cString: env) }
        return defaultPath
    }

    init(path: String, dir: Directory, meta: Directory) {
        self.path = path
        self.dir = dir
        self.meta = meta
    }

    /// Opens an existing root, or returns nil when there is none yet.
    public static func openExisting(_ location: String) throws -> Root? {
        guard let canonical = canonicalPath(location) else {
            let err = errno
            if err == ENOENT { return nil }
            throw TreesError.system("cannot resolve root", location, errno: err)
        }
        let dir = try Directory.open(canonical)
        guard let meta = try dir.openDirectoryIfPresent(".trees") else { return nil }
        return Root(path: canonical, dir: dir, meta: meta)
    }

    /// Opens a root, creating it, `.trees/`, staging and trash if missing.
    public static func create(_ location: String) throws -> Root {
        guard location.hasPrefix("/") || canonicalPath(location) != nil || !location.isEmpty else {
            throw TreesError(.usage, "empty root path")
        }
        try makeDirectories(location)
        guard let canonical = canonicalPath(location) else {
            throw TreesError.system("cannot resolve root", location, errno: errno)
        }
        let dir = try Directory.open(canonical)
        try dir.makeDirectory(".trees", existingOK: true)
        let meta = try dir.openDirectory(".trees")
        try meta.makeDirectory("staging", mode: 0o700, existingOK: true)
        try meta.makeDirectory("trash", mode: 0o700, existingOK: true)
        // Lock files exist from the start, so later commands (a gc --dry-run
        // above all) take their locks without writing anything new.
        for lock in ["install.lock", "gc.lock", "migrate.lock", "write.lock"] {
            let fd = openat(meta.fd, lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
            if fd < 0 { throw TreesError.system("cannot create lock file", "\(canonical)/.trees/\(lock)", errno: errno) }
            close(fd)
        }
        return Root(path: canonical, dir: dir, meta: meta)
    }

    /// `ROOT/NAME/REV`, for display and for /proc matching; never acted on
    /// directly: file work goes through descriptors.
    public func treePath(_ ref: TreeRef) -> String { "\(path)/\(ref.name)/\(ref.rev)" }

    public var databasePath: String { "\(path)/.trees/state.db" }

    func staging() throws -> Directory { try meta.openDirectory("staging") }
    func trash() throws -> Directory { try meta.openDirectory("trash") }

    /// Opens `ROOT/NAME` as a real directory (not a symlink), or nil if absent.
    func nameDirectory(_ name: TreeName, create: Bool = false) throws -> Directory? {
        if create { try dir.makeDirectory(name.value, existingOK: true) }
        do {
            return try dir.openDirectory(name.value)
        } catch let e as TreesError where e.errno == ENOENT {
            return nil
        } catch let e as TreesError where e.errno == ELOOP || e.errno == ENOTDIR {
            throw TreesError(.failure, "\(path)/\(name) is not a real directory",
                             hint: "trees only acts on real directories under the root; move the symlink or file away.")
        }
    }

    /// Opens the store, creating the database only when `create` is set.
    public func openStore(create: Bool = false) throws -> Store {
        try Store(path: databasePath, metaDirectory: meta, create: create)
    }

    /// Opens the store for reading only (ps, list, wait): nothing under
    /// `.trees/` is written, not even the checkpoint SQLite makes when the
    /// last read-write connection closes. An older schema is migrated by a
    /// read-write open, as before.
    public func openStoreForReading(create: Bool = false) throws -> Store {
        do {
            return try Store(path: databasePath, metaDirectory: meta, create: false, readOnly: true)
        } catch {
            // An older schema (migrated by a writer), a missing database or
            // write-ahead log that only a read-write open may create: the
            // read-write open does and reports exactly as before.
            return try openStore(create: create)
        }
    }

    /// Takes an exclusive `flock` on `.trees/NAME.lock`, created if missing.
    /// The lock lives as long as the returned descriptor.
    func lock(_ name: String, wait: Bool) throws -> FileDescriptor? {
        let fd = try syscall("cannot open lock file", "\(path)/.trees/\(name)") {
            openat(meta.fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
        }
        let handle = FileDescriptor(fd)
        return try lockFile(fd, wait: wait, path: "\(path)/.trees/\(name)") ? handle : nil
    }
}

/// `realpath(3)`, or nil with errno set.
func canonicalPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}

/// `mkdir -p`, for the root itself (the only place a path, not a descriptor, is walked).
func makeDirectories(_ path: String) throws {
    var prefix = path.hasPrefix("/") ? "" : "."
    for component in path.split(separator: "/", omittingEmptySubsequences: true) {
        prefix += "/" + component
        if mkdir(prefix, 0o755) != 0 {
            let err = errno
            if err == EEXIST { continue }
            throw TreesError.system("cannot create root", prefix, errno: err)
        }
    }
}
