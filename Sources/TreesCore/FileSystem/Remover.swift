#if canImport(Glibc)
import Glibc
#endif
import CTreesShim

/// Deletes a directory tree fd-relatively, in the manner of Rust's
/// `remove_dir_all` after CVE-2022-21658: each child is opened with
/// `O_NOFOLLOW|O_DIRECTORY`; `ENOTDIR`/`ELOOP` means "not a directory, unlink
/// it"; `ENOENT` from a concurrent delete counts as done. It never follows a
/// symlink and never descends into another mount: a mount point is left in
/// place and reported, so its parent stays behind too.
public struct Remover {
    let device: dev_t
    /// Mount points found inside and left alone.
    public private(set) var mountsSkipped: [String] = []
    /// Sizes of the regular files unlinked.
    public private(set) var bytesFreed: Int64 = 0
    /// Files and links unlinked so far, and a handler told of each (gc's terminal progress).
    public private(set) var filesRemoved: Int64 = 0
    var progress: ProgressHandler?

    init(device: dev_t) { self.device = device }

    /// Removes `name` inside `parent` and everything below it.
    /// Returns true when it is gone, false when a mount kept part of it.
    @discardableResult
    mutating func remove(_ name: FileName, in parent: Directory) throws -> Bool {
        let fd = retryingEINTR {
            name.withCName { openat(parent.fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        }
        if fd < 0 {
            let err = errno
            switch err {
            case ENOENT: return true
            case ENOTDIR, ELOOP: return try unlinkFile(name, in: parent)
            default: throw TreesError.system("cannot open for deletion", parent.child(name), errno: err)
            }
        }
        let dir = Directory(fd: fd, path: parent.child(name))
        let st = try dir.status()
        let mountRoot = name.withCName { CT_is_mount_root(parent.fd, $0) } == 1
        if st.st_dev != device || mountRoot {
            mountsSkipped.append(dir.path)
            return false
        }
        // Owners who are not root need write permission to unlink children
        // of a directory that install made read-only; it is going away anyway.
        _ = fchmod(fd, 0o700)
        var complete = true
        for entry in try dir.entries() {
            if !(try remove(entry.name, in: dir)) { complete = false }
        }
        guard complete else { return false }
        let rc = retryingEINTR { name.withCName { unlinkat(parent.fd, $0, AT_REMOVEDIR) } }
        if rc != 0 {
            let err = errno
            if err == ENOENT { return true }
            throw TreesError.system("cannot remove directory", dir.path, errno: err)
        }
        return true
    }

    private mutating func unlinkFile(_ name: FileName, in parent: Directory) throws -> Bool {
        var st = stat()
        let haveStat = name.withCName { fstatat(parent.fd, $0, &st, AT_SYMLINK_NOFOLLOW) } == 0
        let rc = retryingEINTR { name.withCName { unlinkat(parent.fd, $0, 0) } }
        if rc != 0 {
            let err = errno
            if err == ENOENT { return true }
            throw TreesError.system("cannot remove", parent.child(name), errno: err)
        }
        if haveStat && (st.st_mode & S_IFMT) == S_IFREG && st.st_nlink <= 1 {
            bytesFreed += Int64(st.st_size)
        }
        filesRemoved += 1
        progress?(Progress(phase: "deleting", files: filesRemoved, bytes: bytesFreed))
        return true
    }
}
