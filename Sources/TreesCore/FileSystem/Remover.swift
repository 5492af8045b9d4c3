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
///
/// A tree's files are unlinked on both cores: once it has met
/// `parallelFrom` files, the walk hands batches of a directory's files to
/// a second thread (`UnlinkQueue`) whenever that thread's short queue has
/// room, and unlinks the rest itself. A directory whose batches are still
/// queued is removed later, in the order the walk finished them (so a
/// child always before its parent), once they are done; at most
/// `maxDeferred` directories wait so, each held open. The worker opens
/// nothing, so it can neither follow a symlink nor enter a mount.
public struct Remover {
    let device: dev_t
    /// Directories held open at once by the walk.
    static let maxOpen = 64
    /// Directories finished by the walk but waiting for the worker's batches, at most.
    static let maxDeferred = 32
    /// Files a batch handed to the worker holds, at most.
    static let batchSize = 16
    /// Files met before a second thread is started (none for a small tree).
    var parallelFrom = 512
    /// Mount points found inside and left alone.
    public private(set) var mountsSkipped: [String] = []
    /// Sizes of the regular files unlinked.
    public private(set) var bytesFreed: Int64 = 0
    /// Files and links unlinked so far, and a handler told of each (gc's terminal progress).
    public private(set) var filesRemoved: Int64 = 0
    var progress: ProgressHandler?

    init(device: dev_t) { self.device = device }

    /// What unlinking files added up to, on either thread.
    struct Tally {
        var files: Int64 = 0
        var bytes: Int64 = 0
        var mounts: [String] = []
        /// False when a mount point was left in the directory.
        var complete = true
    }

    /// One directory being emptied: the walk's alone (the worker only
    /// carries it back in its results).
    private final class Node {
        let dir: Directory
        let name: FileName
        /// The directory `name` is in (the caller's `parent` for the top).
        let above: Directory
        let parent: Node?
        var complete = true
        /// The last batch handed over from this directory.
        var lastBatch = 0
        /// Files found to be directories by the worker, still to remove.
        var found: [FileName] = []

        init(dir: Directory, name: FileName, above: Directory, parent: Node?) {
            self.dir = dir
            self.name = name
            self.above = above
            self.parent = parent
        }
    }

    private struct Frame {
        let node: Node
        var pending: [DirEntry]
        var dir: Directory { node.dir }
    }

    private enum Opened {
        case done(Bool)
        case directory(Directory)
    }

    /// The walk's side of the second thread.
    private struct Helper {
        let queue: UnlinkQueue
        var nextBatch = 1
        /// The last batch whose result was applied (they finish in order).
        var finishedBatch = 0
        /// The directory of each batch the worker has not finished.
        var inFlight: [Int: Node] = [:]
        /// Directories finished by the walk, to remove once `finishedBatch` reaches their `lastBatch`.
        var deferred: [Node] = []
    }

    /// Removes `name` inside `parent` and everything below it.
    /// Returns true when it is gone, false when a mount kept part of it.
    @discardableResult
    mutating func remove(_ name: FileName, in parent: Directory) throws -> Bool {
        let first = try open(name, in: parent)
        guard case .directory(let topDir) = first else {
            if case .done(let gone) = first { return gone }
            return true
        }
        let top = Node(dir: topDir, name: name, above: parent, parent: nil)
        var stack = [Frame(node: top, pending: try topDir.entries())]
        var helper: Helper?
        var filesSeen = 0
        var helperTried = false
        defer { helper?.queue.finish(abandon: true) }
        var moved = 0
        while let last = stack.indices.last {
            guard let entry = stack[last].pending.popLast() else {
                let frame = stack.removeLast()
                if var h = helper {
                    try settle(&h, wait: false)
                    if !h.deferred.isEmpty || frame.node.lastBatch > h.finishedBatch {
                        // Its worker's batches are not done yet: removed later, in order.
                        h.deferred.append(frame.node)
                        if h.deferred.count > Self.maxDeferred { try settle(&h, wait: true) }
                        helper = h
                        continue
                    }
                    helper = h
                }
                try finish(frame.node)
                continue
            }
            let child = entry.name
            // What readdir says is a file is unlinked without first trying
            // to open it as a directory (a third of the system calls); if
            // it has become a directory since, it takes the path below.
            if entry.type != UInt8(DT_DIR) && entry.type != UInt8(DT_UNKNOWN) {
                filesSeen += 1
                if helper == nil && !helperTried && filesSeen >= parallelFrom {
                    helperTried = true
                    let queue = UnlinkQueue()
                    if queue.start() { helper = Helper(queue: queue) }
                }
                if var h = helper {
                    // Hand over this file and the directory's next files that
                    // are not directories, if the worker has room for them.
                    var names = [child]
                    var taken: [Int] = []
                    var i = stack[last].pending.endIndex - 1
                    while names.count < Self.batchSize && i >= 0 {
                        let e = stack[last].pending[i]
                        if e.type != UInt8(DT_DIR) && e.type != UInt8(DT_UNKNOWN) { names.append(e.name); taken.append(i) }
                        i -= 1
                    }
                    let node = stack[last].node
                    if try h.queue.offer(UnlinkQueue.Batch(dir: node.dir, names: names, seq: h.nextBatch)) {
                        node.lastBatch = h.nextBatch
                        h.inFlight[h.nextBatch] = node
                        h.nextBatch += 1
                        filesSeen += taken.count
                        for j in taken { stack[last].pending.remove(at: j) } // descending indices
                        helper = h
                        continue
                    }
                    try settle(&h, wait: false)
                    helper = h
                }
                if case .removed(let gone) = try unlinkFile(child, in: stack[last].dir) {
                    if !gone { stack[last].node.complete = false }
                    continue
                }
            }
            switch try open(child, in: stack[last].dir) {
            case .done(let gone):
                if !gone { stack[last].node.complete = false }
            case .directory(let dir):
                if stack.count < Self.maxOpen {
                    let node = Node(dir: dir, name: child, above: stack[last].dir, parent: stack[last].node)
                    stack.append(Frame(node: node, pending: try dir.entries()))
                    continue
                }
                // Too deep to hold open: move it up beside the top's other
                // entries, under a name no entry there has.
                while true {
                    let upName = Array(".trees-deep.\(moved)".utf8)
                    moved += 1
                    let rc = child.withCName { c in upName.withCName { CT_renameat_noreplace(stack[last].dir.fd, c, topDir.fd, $0) } }
                    if rc == 0 { stack[0].pending.append(DirEntry(name: upName, type: UInt8(DT_DIR))); break }
                    let err = errno
                    if err == EEXIST { continue }
                    if err == ENOENT { break }
                    throw TreesError.system("cannot move up for deletion", dir.path, errno: err)
                }
            }
        }
        if var h = helper {
            h.queue.finish(abandon: false)
            while !h.deferred.isEmpty { try settle(&h, wait: true) }
            _ = try h.queue.collect(wait: false) // the worker's error, if any, is never dropped
            helper = nil
        }
        return top.complete
    }

    /// Applies the worker's finished batches, then removes the deferred
    /// directories whose batches are all done, in order; with `wait`,
    /// waits for at least one more batch if the first deferred one needs it.
    private mutating func settle(_ h: inout Helper, wait: Bool) throws {
        let mustWait = wait && (h.deferred.first.map { $0.lastBatch > h.finishedBatch } ?? false)
        for result in try h.queue.collect(wait: mustWait) {
            guard let node = h.inFlight.removeValue(forKey: result.seq) else { continue }
            h.finishedBatch = result.seq
            bytesFreed += result.tally.bytes
            filesRemoved += result.tally.files
            mountsSkipped += result.tally.mounts
            if !result.tally.complete { node.complete = false }
            node.found += result.directories
            if result.tally.files > 0 {
                progress?(Progress(phase: "deleting", files: filesRemoved, bytes: bytesFreed))
            }
        }
        while let node = h.deferred.first, node.lastBatch <= h.finishedBatch {
            h.deferred.removeFirst()
            try finish(node)
        }
    }

    /// Removes an emptied directory, or marks its parent incomplete when a mount kept part of it.
    private mutating func finish(_ node: Node) throws {
        // What the worker found to be a directory (it was made one after
        // the listing) is removed here, without the worker.
        for name in node.found {
            var walk = Remover(device: device)
            walk.parallelFrom = .max
            let gone = try walk.remove(name, in: node.dir)
            bytesFreed += walk.bytesFreed
            filesRemoved += walk.filesRemoved
            mountsSkipped += walk.mountsSkipped
            if !gone { node.complete = false }
        }
        node.found = []
        if node.complete {
            let rc = retryingEINTR { node.name.withCName { unlinkat(node.above.fd, $0, AT_REMOVEDIR) } }
            if rc != 0 {
                let err = errno
                if err != ENOENT { throw TreesError.system("cannot remove directory", node.dir.path, errno: err) }
            }
        } else {
            node.parent?.complete = false
        }
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

    enum Unlinked {
        /// Gone (true), or a mount point left in place (false).
        case removed(Bool)
        /// A directory: to be opened and emptied instead.
        case isDirectory
    }

    private mutating func unlinkFile(_ name: FileName, in parent: Directory) throws -> Unlinked {
        var tally = Tally()
        let unlinked = try Self.unlinkFile(name, in: parent, tally: &tally)
        mountsSkipped += tally.mounts
        if tally.files > 0 {
            bytesFreed += tally.bytes
            filesRemoved += tally.files
            progress?(Progress(phase: "deleting", files: filesRemoved, bytes: bytesFreed))
        }
        return unlinked
    }

    /// Unlinks one name that is not a directory, adding it to `tally`; on
    /// either thread. Never follows a symlink (the link itself is removed);
    /// a mount point (`EBUSY`) is left and reported.
    static func unlinkFile(_ name: FileName, in parent: Directory, tally: inout Tally) throws -> Unlinked {
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
                tally.mounts.append(parent.child(name))
                tally.complete = false
                return .removed(false)
            }
            throw TreesError.system("cannot remove", parent.child(name), errno: err)
        }
        if haveStat && (st.st_mode & S_IFMT) == S_IFREG && st.st_nlink <= 1 {
            tally.bytes += Int64(st.st_size)
        }
        tally.files += 1
        return .removed(true)
    }
}
