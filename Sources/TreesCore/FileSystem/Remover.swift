#if canImport(Glibc)
import Glibc
#endif
import CTreesShim

/// Deletes a directory tree fd-relatively, in the manner of Rust's
/// `remove_dir_all` after CVE-2022-21658: each child is opened with
/// `O_NOFOLLOW|O_DIRECTORY`; `ENOTDIR`/`ELOOP` means "not a directory, unlink
/// it"; `ENOENT` from a concurrent delete counts as done. It never follows a
/// symlink and never descends into another mount: a mount point (a directory,
/// or a file bind-mounted over a file, which `unlink` refuses with `EBUSY`)
/// is left in place and reported, so its parent stays behind too.
///
/// The walk is iterative and holds at most `maxOpen` directories open, at
/// any depth: a directory met deeper than that is first moved up into the
/// top directory being removed (one `rename(2)` within the doomed tree) and
/// removed from there later. So a 30,000-deep tree left by a crashed install,
/// or any tree at `ulimit -n 1024`, is removed without recursion and without
/// running out of descriptors.
public struct Remover {
    let device: dev_t
    /// Directories held open at once.
    static let maxOpen = 64
    /// Mount points found inside and left alone.
    public private(set) var mountsSkipped: [String] = []
    /// Sizes of the regular files unlinked.
    public private(set) var bytesFreed: Int64 = 0
    /// Files and links unlinked so far, and a handler told of each (gc's terminal progress).
    public private(set) var filesRemoved: Int64 = 0
    var progress: ProgressHandler?

    init(device: dev_t) { self.device = device }

    private struct Frame {
        let dir: Directory
        let name: FileName
        var pending: [DirEntry]
        var complete = true
    }

    private enum Opened {
        case done(Bool)
        case directory(Directory)
    }

    /// Removes `name` inside `parent` and everything below it.
    /// Returns true when it is gone, false when a mount kept part of it.
    @discardableResult
    mutating func remove(_ name: FileName, in parent: Directory) throws -> Bool {
        let first = try open(name, in: parent)
        guard case .directory(let top) = first else {
            if case .done(let gone) = first { return gone }
            return true
        }
        var stack = [Frame(dir: top, name: name, pending: try top.entries())]
        var moved = 0
        while let last = stack.indices.last {
            guard let entry = stack[last].pending.popLast() else {
                let frame = stack.removeLast()
                let above = stack.last?.dir ?? parent
                if frame.complete {
                    let rc = retryingEINTR { frame.name.withCName { unlinkat(above.fd, $0, AT_REMOVEDIR) } }
                    if rc != 0 {
                        let err = errno
                        if err != ENOENT { throw TreesError.system("cannot remove directory", frame.dir.path, errno: err) }
                    }
                } else if stack.isEmpty {
                    return false
                } else {
                    stack[stack.count - 1].complete = false
                }
                continue
            }
            let child = entry.name
            // What readdir says is a file is unlinked without first trying
            // to open it as a directory (a third of the system calls); if
            // it has become a directory since, it takes the path below.
            if entry.type != UInt8(DT_DIR) && entry.type != UInt8(DT_UNKNOWN),
               case .removed(let gone) = try unlinkFile(child, in: stack[last].dir) {
                if !gone { stack[last].complete = false }
                continue
            }
            switch try open(child, in: stack[last].dir) {
            case .done(let gone):
                if !gone { stack[last].complete = false }
            case .directory(let dir):
                if stack.count < Self.maxOpen {
                    stack.append(Frame(dir: dir, name: child, pending: try dir.entries()))
                    continue
                }
                // Too deep to hold open: move it up beside the top's other
                // entries, under a name no entry there has.
                while true {
                    let upName = Array(".trees-deep.\(moved)".utf8)
                    moved += 1
                    let rc = child.withCName { c in upName.withCName { CT_renameat_noreplace(stack[last].dir.fd, c, top.fd, $0) } }
                    if rc == 0 { stack[0].pending.append(DirEntry(name: upName, type: UInt8(DT_DIR))); break }
                    let err = errno
                    if err == EEXIST { continue }
                    if err == ENOENT { break }
                    throw TreesError.system("cannot move up for deletion", dir.path, errno: err)
                }
            }
        }
        return true
    }

    /// Opens `name` as a directory to empty, or deletes it if it is not one.
    private mutating func open(_ name: FileName, in parent: Directory) throws -> Opened {
        let fd = retryingEINTR {
            name.withCName { openat(parent.fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        }
        if fd < 0 {
            let err = errno
            switch err {
            case ENOENT: return .done(true)
            case ENOTDIR, ELOOP:
                // Not a directory now; if it became one meanwhile, the next pass opens it.
                guard case .removed(let gone) = try unlinkFile(name, in: parent) else {
                    throw TreesError.system("cannot remove", parent.child(name), errno: EISDIR)
                }
                return .done(gone)
            default: throw TreesError.system("cannot open for deletion", parent.child(name), errno: err)
            }
        }
        let dir = Directory(fd: fd, path: parent.child(name))
        let st = try dir.status()
        let mountRoot = name.withCName { CT_is_mount_root(parent.fd, $0) } == 1
        if st.st_dev != device || mountRoot {
            mountsSkipped.append(dir.path)
            return .done(false)
        }
        // Owners who are not root need write permission to unlink children
        // of a directory that install made read-only; it is going away anyway.
        _ = fchmod(fd, 0o700)
        return .directory(dir)
    }

    private enum Unlinked {
        /// Gone (true), or a mount point left in place (false).
        case removed(Bool)
        /// A directory: to be opened and emptied instead.
        case isDirectory
    }

    private mutating func unlinkFile(_ name: FileName, in parent: Directory) throws -> Unlinked {
        var st = stat()
        let haveStat = name.withCName { fstatat(parent.fd, $0, &st, AT_SYMLINK_NOFOLLOW) } == 0
        if haveStat && (st.st_mode & S_IFMT) == S_IFDIR { return .isDirectory }
        let rc = retryingEINTR { name.withCName { unlinkat(parent.fd, $0, 0) } }
        if rc != 0 {
            let err = errno
            if err == ENOENT { return .removed(true) }
            if err == EISDIR { return .isDirectory }
            // A file bind-mounted over this one: a mount point like any other.
            if err == EBUSY {
                mountsSkipped.append(parent.child(name))
                return .removed(false)
            }
            throw TreesError.system("cannot remove", parent.child(name), errno: err)
        }
        if haveStat && (st.st_mode & S_IFMT) == S_IFREG && st.st_nlink <= 1 {
            bytesFreed += Int64(st.st_size)
        }
        filesRemoved += 1
        progress?(Progress(phase: "deleting", files: filesRemoved, bytes: bytesFreed))
        return .removed(true)
    }
}
