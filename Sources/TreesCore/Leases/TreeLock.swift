#if canImport(Glibc)
import Glibc
#endif

/// A `flock(2)` on a tree's lease lock file, `ROOT/.trees/leases/NAME@REV.lock`
/// (outside the tree, so its digest is untouched).
///
/// This is the lease itself (Flatpak's model): `trees exec` takes it shared
/// and keeps the descriptor open across `execve`, so the job and everything
/// it spawns hold it, and the kernel drops it when the last of them exits.
/// Pid reuse, reboots and pid namespaces cannot fool it, and nobody else can
/// release it. GC takes it exclusive without waiting: failure means in use.
///
/// The file is 0640, owned by the operator, in the group of `ROOT/.trees`
/// (the group allowed to hold trees); the directory is 0750 and the same.
///
/// Noncopyable, like the descriptor it owns: one owner holds the lock, and
/// it ends when that owner's value goes away. Work done under it is scoped
/// (`withShared`, or a `borrowing` call), since a value is promised to live
/// only to its last use.
public struct TreeLock: ~Copyable, Sendable {
    public let tree: TreeRef
    let handle: FileDescriptor
    /// The descriptor holding the lock (kept by the job across `execve`).
    public var fd: Int32 { handle.raw }

    init(tree: TreeRef, handle: consuming FileDescriptor) {
        self.tree = tree
        self.handle = handle
    }

    static func fileName(_ ref: TreeRef) -> String { "\(ref).lock" }

    /// Runs `body` holding the lock shared (as `shared` takes it), released
    /// when `body` returns or throws; `body` gets nil where `shared` returns nil.
    public static func withShared<T>(_ ref: TreeRef, in root: Root, _ body: (borrowing TreeLock?) throws -> T) throws -> T {
        let lock = try shared(ref, in: root)
        return try body(lock)
    }

    /// Takes the lock shared, for a job. Retries while it is held exclusive
    /// (a gc deciding about the tree, or a hostile group member) for at most
    /// `timeout` seconds, then throws `.temporary` (75) naming the holder.
    /// - Returns: nil when this user may not open the lock file (not in the
    ///   group of `ROOT/.trees`) or it does not exist and cannot be made.
    /// - Throws: `.notFound` (66) when the tree is not (or no longer) on disk.
    public static func shared(_ ref: TreeRef, in root: Root, timeout: Double? = nil) throws -> TreeLock? {
        let deadline = monotonicNow() + (timeout ?? root.settings.lockTimeout)
        var pause: useconds_t = 500
        while true {
            try requireOnDisk(ref, root)
            guard let dir = try? root.leasesDirectory(create: true),
                  let handle = try openIfPermitted(ref, in: dir, root: root, create: true) else { return nil }
            if retryingEINTR({ flock(handle.raw, LOCK_SH | LOCK_NB) }) == 0 {
                // A gc that deleted the tree unlinked this file while holding
                // it exclusive: a lock on an unlinked file guards nothing.
                if stillNamed(handle, ref, in: dir) {
                    try requireOnDisk(ref, root)
                    return TreeLock(tree: ref, handle: handle)
                }
                continue
            }
            let err = errno
            guard err == EWOULDBLOCK else { throw TreesError.system("cannot lock", "\(dir.path)/\(fileName(ref))", errno: err) }
            if monotonicNow() >= deadline {
                throw TreesError(.temporary, "\(ref) is locked exclusively by \(describeLockHolders(handle.raw)) (a gc deciding about it, or a process holding it hostage)",
                                 hint: "Try again later; gc holds it only while it decides or deletes.")
            }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
    }

    /// Tries to take the lock exclusive without waiting, for gc. Creates the
    /// file when `create` is set (a dry run creates nothing: a missing file is
    /// a lock nobody holds).
    /// - Returns: `.taken(lock)`, `.held` when anyone holds it, `.taken(nil)`
    ///   when the file is missing and was not created, or `.unknown` when it
    ///   exists but this user may not open it: a lock gc cannot try is a
    ///   lock someone may hold, never a free one (fail closed, as for a
    ///   process that cannot be inspected).
    static func exclusive(_ ref: TreeRef, in root: Root, create: Bool) throws -> ExclusiveResult {
        guard let dir = try root.leasesDirectory(create: create) else { return .taken(nil) }
        let handle: FileDescriptor
        do {
            guard let opened = try open(ref, in: dir, root: root, create: create) else { return .taken(nil) }
            handle = opened
        } catch let e as TreesError where e.errno == .permissionDenied || e.errno == .notPermitted {
            return .unknown(e.message)
        }
        if try !lockFile(handle.raw, exclusive: true, waitingUpTo: nil, path: "\(dir.path)/\(fileName(ref))") { return .held }
        return .taken(TreeLock(tree: ref, handle: handle))
    }

    /// Makes the lock file of a newly installed tree (best effort), so a job
    /// user, who may not create it, finds it there on the first exec.
    static func prepare(_ ref: TreeRef, in root: Root) {
        guard let dir = try? root.leasesDirectory(create: true) else { return }
        _ = try? openIfPermitted(ref, in: dir, root: root, create: true)
    }

    enum ExclusiveResult: ~Copyable {
        case taken(TreeLock?)
        case held
        /// The file exists and this user may not open it (the message says why).
        case unknown(String)
    }

    /// After the tree is deleted: unlinks the lock file, while holding it
    /// exclusive, so a job that opened it meanwhile sees it gone.
    func unlinkFile(in root: Root) {
        guard let dir = try? root.leasesDirectory(create: false), stillNamed(handle, tree, in: dir) else { return }
        _ = unlinkat(dir.fd, TreeLock.fileName(tree), 0)
    }

    /// Lets the descriptor survive `execve` (clears `FD_CLOEXEC` with
    /// `fcntl(2)`), so the job keeps holding the lock. Returns the error, if any.
    func inherit() -> TreesError? {
        let flags = fcntl(fd, F_GETFD)
        guard flags >= 0, fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) == 0 else {
            return TreesError.system("cannot keep the lease lock open for", tree.description, errno: errno)
        }
        return nil
    }

    private static func requireOnDisk(_ ref: TreeRef, _ root: Root) throws {
        guard try root.hasTree(ref) else {
            throw TreesError(.notFound, "no tree \(ref)")
        }
    }

    /// As `open`, with nil also when this user may not open the file: a job
    /// user outside the holders' group then runs tracked through /proc.
    private static func openIfPermitted(_ ref: TreeRef, in dir: Directory, root: Root, create: Bool) throws -> FileDescriptor? {
        do {
            return try open(ref, in: dir, root: root, create: create)
        } catch let e as TreesError where e.errno == .permissionDenied || e.errno == .notPermitted {
            return nil
        }
    }

    /// Opens the lock file read-only (all `flock` needs); nil when it is
    /// missing and `create` is off.
    /// - Throws: `TreesError.system` with `EACCES`/`EPERM` when this user
    ///   may not open (or create) it.
    private static func open(_ ref: TreeRef, in dir: Directory, root: Root, create: Bool) throws -> FileDescriptor? {
        let name = fileName(ref)
        var fd = retryingEINTR { openat(dir.fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        if fd < 0 && errno == ENOENT && create {
            fd = retryingEINTR { openat(dir.fd, name, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o640) }
        }
        if fd < 0 {
            let err = errno
            if err == ENOENT { return nil }
            throw TreesError.system("cannot open lease lock file", "\(dir.path)/\(name)", errno: err)
        }
        let handle = FileDescriptor(fd)
        root.restrictToHolders(fd, mode: 0o640)
        return handle
    }

    private func stillNamed(_ handle: borrowing FileDescriptor, _ ref: TreeRef, in dir: Directory) -> Bool {
        TreeLock.stillNamed(handle, ref, in: dir)
    }

    private static func stillNamed(_ handle: borrowing FileDescriptor, _ ref: TreeRef, in dir: Directory) -> Bool {
        var open = stat(), named = stat()
        guard fstat(handle.raw, &open) == 0, fstatat(dir.fd, fileName(ref), &named, AT_SYMLINK_NOFOLLOW) == 0 else { return false }
        return open.st_dev == named.st_dev && open.st_ino == named.st_ino
    }
}

extension Root {
    /// `ROOT/.trees/leases`, made 0750 in the holders' group when `create`
    /// is set and this user may; nil when absent (or not to be made).
    func leasesDirectory(create: Bool) throws -> Directory? {
        if let dir = try meta.openDirectoryIfPresent("leases") {
            restrictToHolders(dir.fd, mode: 0o750)
            return dir
        }
        guard create else { return nil }
        try meta.makeDirectory("leases", mode: 0o750, existingOK: true)
        let dir = try meta.openDirectory("leases")
        restrictToHolders(dir.fd, mode: 0o750)
        return dir
    }

    /// When this user owns the file: gives it the group of `ROOT/.trees`
    /// and `mode`, so an operator's `chgrp` of `.trees` reaches every lease
    /// lock the next time trees opens it. Best effort: a failure only keeps
    /// group members out (they fall back to /proc tracking).
    ///
    /// Root (allowed everything in an operator's root) gives what it made,
    /// or finds made by root, to the operator: a lease lock the operator's
    /// gc cannot open is one it cannot try, and gc then keeps that tree for
    /// good.
    func restrictToHolders(_ fd: Int32, mode: mode_t) {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return }
        if geteuid() == 0, let owner = operatorUID, owner != 0, st.st_uid == 0, fchown(fd, owner, gid_t.max) == 0 {
            st.st_uid = owner
        }
        guard st.st_uid == geteuid() || geteuid() == 0 else { return }
        if let group = holderGroup, st.st_gid != group { _ = fchown(fd, uid_t.max, group) }
        if (st.st_mode & 0o7777) != mode { _ = fchmod(fd, mode) }
    }
}
