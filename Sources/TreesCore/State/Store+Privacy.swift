#if canImport(Glibc)
import Glibc
#endif

/// The database is the operator's alone: anyone who may open it may hold a
/// read transaction, and no checkpoint passes a reader's snapshot, so the
/// write-ahead log would grow without bound for as long as that reader
/// stays (issue 14). Job users need none of it: a job holds its tree by the
/// lease lock. So `state.db` and its -wal and -shm are 0600, owned by the
/// operator (the owner of `ROOT/.trees`); SQLite gives the -wal and -shm it
/// creates the database's mode and, run as root, its owner.
extension Store {
    static let databaseFiles = ["state.db", "state.db-wal", "state.db-shm"]

    /// Creates an empty `state.db`, mode 0600, where there is none, so that
    /// it is never readable by others, not even in the instant before a
    /// chmod (SQLite would create it 0644). An empty file is a database
    /// SQLite initialises on first write.
    static func createPrivately(in meta: Directory) throws {
        let fd = openat(meta.fd, "state.db", O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd < 0 {
            let err = errno
            if err == EEXIST { return }
            throw TreesError.system("cannot create state database", "\(meta.path)/state.db", errno: err)
        }
        close(fd)
    }

    /// Makes each of `names` under `.trees` private to the operator: mode
    /// 0600 and, when root finds one of root's in an operator's root, the
    /// operator's. A root made by an older trees (database 0644) is made
    /// private by the operator's next command that opens it for writing.
    /// Best effort: a file this user does not own is left as it is (its
    /// owner's next command fixes it).
    ///
    /// Works through `O_PATH` descriptors: closing a readable descriptor of
    /// the database would drop the POSIX locks SQLite holds on it in this
    /// process; an `O_PATH` one holds no locks, and nothing is followed.
    static func makePrivate(_ names: [String], in meta: Directory) {
        var owner = stat()
        guard fstat(meta.fd, &owner) == 0 else { return }
        let me = geteuid()
        for name in names {
            let fd = openat(meta.fd, name, openPathFlag | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            // fchmod and fchown refuse an O_PATH descriptor; its /proc link
            // reaches the very inode opened, whatever the name now holds.
            let inode = "/proc/self/fd/\(fd)"
            if me == 0 && st.st_uid == 0 && owner.st_uid != 0 && chown(inode, owner.st_uid, gid_t.max) == 0 {
                st.st_uid = owner.st_uid
            }
            guard st.st_uid == me || me == 0, (st.st_mode & 0o7777) != 0o600 else { continue }
            _ = chmod(inode, 0o600)
        }
    }
}
