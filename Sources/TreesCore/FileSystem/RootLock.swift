#if canImport(Glibc)
import Glibc
#endif

/// The operator's lock files in `ROOT/.trees/`, one case each; each knows its
/// file name, and `open(in:)` is the one place any of them is opened.
///
/// They are 0600: `flock` needs only read access, so a lock file anyone can
/// open is a lock anyone can hold hostage.
enum RootLock: CaseIterable {
    /// Installs: cleaning staging, making a container, committing.
    case install
    /// Collections (`gc`, `remove`) and their recovery.
    case gc
    /// Schema migrations of the database.
    case migrate
    /// Every write transaction (`Store.serialized`).
    case write

    var fileName: String {
        switch self {
        case .install: "install.lock"
        case .gc: "gc.lock"
        case .migrate: "migrate.lock"
        case .write: "write.lock"
        }
    }

    /// Opens (creating) the lock file in `meta` (`ROOT/.trees`), and makes
    /// one that an older trees created 0644 private again when this user
    /// owns it.
    /// - Throws: `TreesError.system` naming the file when `openat` fails.
    func open(in meta: Directory) throws -> FileDescriptor {
        let fd = try syscall("cannot open lock file", "\(meta.path)/\(fileName)",
                             hint: "The lock files under .trees belong to the operator who owns the root; run this command as that user.") {
            openat(meta.fd, fileName, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        }
        let file = FileDescriptor(fd)
        var st = stat()
        if fstat(fd, &st) == 0 && st.st_uid == geteuid() && (st.st_mode & 0o077) != 0 { _ = fchmod(fd, 0o600) }
        return file
    }

    /// Runs `body` after trying to take the lock exclusive, holding it (if
    /// taken) until `body` returns or throws; `body` is told whether it holds it.
    /// - Parameter timeout: nil tries once; otherwise waits at most that
    ///   many seconds, then throws `.temporary` (75) naming the holders, so
    ///   `body` then always holds it (see `lockFile`).
    func hold<T>(in meta: Directory, waitingUpTo timeout: Double?, _ body: (_ held: Bool) throws -> T) throws -> T {
        let file = try open(in: meta)
        let held = try lockFile(file.raw, waitingUpTo: timeout, path: "\(meta.path)/\(fileName)")
        return try file.whileOpen { try body(held) }
    }
}

extension Root {
    /// Runs `body` holding `lock` exclusive, waiting for it at most the lock
    /// timeout (then `.temporary`, 75, naming the holder).
    func withLock<T>(_ lock: RootLock, _ body: () throws -> T) throws -> T {
        try holding(lock, wait: true) { _ in try body() }
    }

    /// Runs `body` holding `lock` exclusive; nil, without running it, when
    /// `wait` is false and another process holds the lock.
    @discardableResult
    func withLock<T>(_ lock: RootLock, wait: Bool, _ body: () throws -> T) throws -> T? {
        try holding(lock, wait: wait) { held in held ? try body() : nil }
    }

    /// Tries `lock` without waiting and runs `body` either way, holding the
    /// lock throughout when it was free; `body` is told whether it was.
    func tryingLock<T>(_ lock: RootLock, _ body: (_ held: Bool) throws -> T) throws -> T {
        try holding(lock, wait: false, body)
    }

    private func holding<T>(_ lock: RootLock, wait: Bool, _ body: (_ held: Bool) throws -> T) throws -> T {
        // A root made by an older trees has 0644 lock files: each operator
        // command that locks makes them all private again (one open each).
        for other in RootLock.allCases where other != lock { _ = try? other.open(in: meta) }
        return try lock.hold(in: meta, waitingUpTo: wait ? settings.lockTimeout : nil, body)
    }
}
