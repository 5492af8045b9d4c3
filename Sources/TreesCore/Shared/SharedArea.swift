#if canImport(Glibc)
import Glibc
#endif

/// `ROOT/NAME/shared` on disk: where the declared paths of NAME live,
/// outside every tree, never collected.
///
/// The declared paths are writable by job users, who can put a symlink or
/// a FIFO anywhere inside them; so every step here is fd-relative with
/// `O_NOFOLLOW` (a component that is a symlink stops the walk), a file is
/// opened `O_NONBLOCK` and judged by `fstat`, and owners and modes are
/// changed through the descriptor (`fchown`, `fchmod`), never by a path.
struct SharedArea {
    let root: Root
    let name: TreeName

    var path: String { root.sharedPath(name) }

    /// Opens `ROOT/NAME/shared` as a real directory (creating it and
    /// `ROOT/NAME` when `create`), or nil when it is missing.
    func open(create: Bool) throws -> Directory? {
        guard let nameDir = try root.nameDirectory(name, create: create) else { return nil }
        if create { try nameDir.makeDirectory("shared", mode: 0o755, existingOK: true) }
        do {
            return try nameDir.openDirectory("shared")
        } catch let e as TreesError where e.errno == .noSuchFileOrDirectory {
            return nil
        } catch let e as TreesError where e.errno == .tooManySymbolicLinks || e.errno == .notDirectory {
            throw TreesError(.failure, "\(path) is not a real directory",
                             hint: "trees keeps shared paths in a real directory; move the symlink or file away.")
        }
    }

    /// The directory holding `d`'s last component, walked component by
    /// component without following a symlink; created (0755, as this user)
    /// when `create`. Nil when a component is missing.
    func parent(of d: SharedDeclaration, in shared: Directory, create: Bool) throws -> Directory? {
        var dir = shared
        for component in d.path.components.dropLast() {
            if create { try dir.makeDirectory(component, mode: 0o755, existingOK: true) }
            do {
                dir = try dir.openDirectory(component)
            } catch let e as TreesError where e.errno == .noSuchFileOrDirectory {
                return nil
            } catch let e as TreesError where e.errno == .tooManySymbolicLinks || e.errno == .notDirectory {
                throw TreesError(.badInput, "\(dir.child(Array(component.utf8))) is not a directory, so \(path)/\(d.path) cannot be made",
                                 hint: "Move it out of the way; trees never follows a symlink in \(path).")
            }
        }
        return dir
    }

    /// Creates what `d` declares, or gives the existing one its owner and
    /// mode. Intermediate directories are the operator's, 0755.
    /// - Throws: `.badInput` (65) when something of another type is in the
    ///   way; a system error when an owner cannot be set (only root may give
    ///   a file away).
    func ensure(_ d: SharedDeclaration) throws {
        guard let shared = try open(create: true), let parent = try parent(of: d, in: shared, create: true),
              let leaf = d.path.components.last else {
            throw TreesError(.failure, "\(path) vanished while it was being made")
        }
        let shown = "\(path)/\(d.path)"
        // A path made here is durable before the declaration is recorded.
        let existed = (try? parent.status(leaf)) != nil
        defer { if !existed { try? parent.sync() } }
        let fd: Int32
        switch d.kind {
        case .directory:
            let rc = retryingEINTR { mkdirat(parent.fd, leaf, d.mode & 0o777) }
            if rc != 0 && errno != EEXIST { throw TreesError.system("cannot create directory", shown, errno: errno) }
            fd = retryingEINTR { openat(parent.fd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        case .file:
            fd = retryingEINTR { openat(parent.fd, leaf, O_RDONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, d.mode & 0o777) }
        }
        if fd < 0 {
            let err = errno
            if err == ELOOP || err == ENOTDIR {
                throw TreesError(.badInput, "\(shown) is not a \(d.kind.rawValue)", errno: Errno(err),
                                 hint: "Move it out of the way, or declare it as what it is (--file for a file).")
            }
            throw TreesError.system("cannot open", shown, errno: err)
        }
        let handle = FileDescriptor(fd)
        var st = stat()
        try syscall("cannot stat", shown) { fstat(handle.raw, &st) }
        guard (st.st_mode & S_IFMT) == (d.kind == .directory ? S_IFDIR : S_IFREG) else {
            throw TreesError(.badInput, "\(shown) is not a \(d.kind.rawValue)",
                             hint: "Move it out of the way, or declare it as what it is (--file for a file).")
        }
        let uid = d.uid ?? st.st_uid, gid = d.gid ?? st.st_gid
        if st.st_uid != uid || st.st_gid != gid {
            try syscall("cannot change the owner of", shown,
                        hint: "Only root may give a file to another user; run this as root, or chown \(uid):\(gid) \(shown) once.") {
                fchown(handle.raw, uid, gid)
            }
        }
        // After fchown, which clears setuid and setgid bits.
        if st.st_mode & 0o7777 != d.mode || st.st_uid != uid || st.st_gid != gid {
            try syscall("cannot set the mode of", shown) { fchmod(handle.raw, d.mode) }
        }
    }

    /// What is wrong with `d` on disk, one phrase each; empty when it is in
    /// place, of its kind, owner and mode, and writable by its owner (the
    /// job user) through directories that user may search.
    func problems(_ d: SharedDeclaration) throws -> [String] {
        guard let nameDir = try root.nameDirectory(name), let shared = try open(create: false) else { return ["missing"] }
        let jobUID = d.uid, jobGID = d.gid
        var problems: [String] = []
        func searchable(_ st: stat, _ shown: String) {
            guard let uid = jobUID, uid != 0 else { return }
            let bit: mode_t = st.st_uid == uid ? 0o100 : (st.st_gid == jobGID ? 0o010 : 0o001)
            if st.st_mode & bit == 0 { problems.append("uid \(uid) cannot search \(shown)") }
        }
        searchable(try nameDir.status(), nameDir.path)
        searchable(try shared.status(), shared.path)
        var dir = shared
        for component in d.path.components.dropLast() {
            do {
                dir = try dir.openDirectory(component)
            } catch let e as TreesError where e.errno == .noSuchFileOrDirectory {
                return ["missing"]
            } catch let e as TreesError where e.errno == .tooManySymbolicLinks || e.errno == .notDirectory {
                return ["\(dir.child(Array(component.utf8))) is not a directory"]
            }
            searchable(try dir.status(), dir.path)
        }
        guard let leaf = d.path.components.last else { return ["missing"] }
        let st: stat
        do {
            st = try dir.status(leaf)
        } catch let e as TreesError where e.errno == .noSuchFileOrDirectory {
            return ["missing"]
        }
        let type = st.st_mode & S_IFMT
        guard type == (d.kind == .directory ? S_IFDIR : S_IFREG) else {
            return ["is a \(type == S_IFLNK ? "symlink" : type == S_IFDIR ? "directory" : type == S_IFREG ? "file" : "special file"), declared a \(d.kind.rawValue)"]
        }
        if let uid = d.uid, let gid = d.gid, st.st_uid != uid || st.st_gid != gid {
            problems.append("owned by \(st.st_uid):\(st.st_gid), declared \(uid):\(gid)")
        }
        if st.st_mode & 0o7777 != d.mode {
            problems.append("mode \(SharedArea.octal(st.st_mode)), declared \(SharedArea.octal(d.mode))")
        }
        let writable: mode_t = d.kind == .directory ? 0o300 : 0o200
        if st.st_mode & writable != writable { problems.append("not writable by its owner") }
        return problems
    }

    static func octal(_ mode: mode_t) -> String {
        let digits = String(mode & 0o7777, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
