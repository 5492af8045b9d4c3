#if canImport(Glibc)
import Glibc
#endif
import CTreesShim

/// Copies a source directory into staging, fd-relatively on both sides.
///
/// The walk is iterative (no recursion, whatever the depth) and refuses a
/// source beyond `TreeLimits` with exit 65 as soon as it meets the first
/// entry past a limit, so it keeps at most two directories open per level.
/// Names are bytes end to end, never re-encoded.
struct DirectoryCopier {
    var tally = Progress(phase: "copying", files: 0, bytes: 0)
    let progress: ProgressHandler?
    /// Each copied file's SHA-256 and size by path inside the tree, computed
    /// from the bytes as they were written (so the seal reads nothing again):
    /// this thread's ledger, then the second thread's.
    private(set) var ledgers: [HashLedger]
    /// Where the ledgers keep their runs (the install's staging container).
    let scratch: Directory
    /// Installed files of the same NAME that a copy may be a hard link to.
    var dedup = DedupIndex.empty

    private struct Frame {
        let src: Directory
        let dst: Directory
        /// Components and bytes of this directory's path inside the tree.
        let depth: Int
        let pathBytes: Int
        /// This directory's path inside the tree (empty for the top).
        let prefix: FileName
        /// The mode to give `dst` once its content is in (nil for the top).
        let mode: mode_t?
        var pending: [DirEntry]
    }

    /// Whether a second thread copies files beside the walk (`FileCopyQueue`).
    var parallel = true

    init(progress: ProgressHandler?, scratch: Directory) throws {
        self.progress = progress
        self.scratch = scratch
        ledgers = [try HashLedger(in: scratch)]
    }

    mutating func copy(from top: Directory, to topDst: Directory) throws {
        let queue = try FileCopyQueue(dedup: dedup, ledger: HashLedger(in: scratch))
        let started = parallel && queue.start()
        self.queue = started ? queue : nil
        defer { self.queue = nil }
        do {
            try walk(from: top, to: topDst)
        } catch {
            // No thread may write into staging once the install cleans it up.
            if started { _ = try? queue.finish(abandon: true) }
            throw error
        }
        if started {
            ledgers.append(try queue.finish())
            let theirs = queue.copied
            tally.files += theirs.files
            tally.bytes += theirs.bytes
        }
    }

    /// The second thread's queue while `copy` runs.
    private var queue: FileCopyQueue? = nil

    private mutating func walk(from top: Directory, to topDst: Directory) throws {
        var stack = [Frame(src: top, dst: topDst, depth: 0, pathBytes: 0, prefix: [], mode: nil, pending: try top.entries())]
        while let last = stack.indices.last {
            guard let entry = stack[last].pending.popLast() else {
                let frame = stack.removeLast()
                if let mode = frame.mode {
                    try syscall("cannot set mode of", frame.dst.path) { fchmod(frame.dst.fd, mode) }
                }
                continue
            }
            let src = stack[last].src, dst = stack[last].dst
            let depth = stack[last].depth + 1
            let pathBytes = stack[last].pathBytes + (depth > 1 ? 1 : 0) + entry.name.count
            if depth > TreeLimits.maxDepth || pathBytes > TreeLimits.maxPathBytes || entry.name.count > TreeLimits.maxNameBytes {
                let why = depth > TreeLimits.maxDepth ? "is \(depth) components deep; trees allows at most \(TreeLimits.maxDepth)"
                    : "makes a path of \(pathBytes) bytes inside the tree; trees allows at most \(TreeLimits.maxPathBytes)"
                throw TreesError(.badInput, "source entry \(src.child(entry.name)) \(why)",
                                 hint: "Nothing was installed; flatten the source.")
            }
            let st = try src.status(entry.name)
            let prefix = stack[last].prefix
            let path = prefix.isEmpty ? entry.name : prefix + [0x2f] + entry.name
            let perm = mode_t(st.st_mode & 0o7777 & ~0o6022)
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                try dst.makeDirectory(entry.name, mode: 0o700)
                let child = try dst.openDirectory(entry.name)
                let srcChild = try src.openDirectory(entry.name)
                stack.append(Frame(src: srcChild, dst: child, depth: depth, pathBytes: pathBytes, prefix: path,
                                   mode: perm | 0o700, pending: try srcChild.entries()))
            case S_IFREG:
                // A file that may be linked goes to the queue too: checking
                // the installed file reads it, and two threads keep two
                // reads in flight (what a cold older tree waits on).
                let mayLink = dedup.mayHold(size: Int64(st.st_size))
                if let queue, try queue.offer(.init(src: src, dst: dst, name: entry.name, path: path, mode: perm | 0o600,
                                                    mayLink: mayLink)) {
                    reportProgress()
                } else if mayLink, let linked = try dedup.link(entry.name, from: src, to: dst, mode: perm | 0o600, buffer: &buffer) {
                    try ledgers[0].record(path, linked)
                    tally.files += 1
                    tally.bytes += linked.size
                    reportProgress()
                } else {
                    let hash = try copyFile(entry.name, from: src, to: dst, mode: perm | 0o600, buffer: &buffer)
                    try ledgers[0].record(path, hash)
                    tally.files += 1
                    tally.bytes += hash.size
                    reportProgress()
                }
            case S_IFLNK:
                let target = try src.readLink(entry.name)
                try syscall("cannot create symlink", dst.child(entry.name)) {
                    target.withCName { t in entry.name.withCName { symlinkat(t, dst.fd, $0) } }
                }
                tally.files += 1
            default:
                throw TreesError(.badInput, "source holds \(fileKind(st.st_mode)) at \(src.child(entry.name))",
                                 hint: "A tree holds only files, directories and symlinks; remove it from the source.")
            }
        }
    }

    var buffer = [UInt8](repeating: 0, count: 1 << 18)

    private var lastReported: Int64 = 0

    /// Progress every 256 files, counting the worker's.
    private mutating func reportProgress() {
        guard let progress else { return }
        let theirs = queue?.copied ?? (files: 0, bytes: 0)
        let files = tally.files + theirs.files
        guard files >= lastReported + 256 else { return }
        lastReported = files
        progress(Progress(phase: tally.phase, files: files, bytes: tally.bytes + theirs.bytes))
    }
}

/// Writes `count` bytes of `buffer`, continuing after short writes.
func writeAll(_ fd: Int32, _ buffer: [UInt8], count: Int, path: String) throws {
    var offset = 0
    while offset < count {
        let w = try buffer.withUnsafeBytes { buf in
            try syscall("cannot write", path) { write(fd, buf.baseAddress! + offset, count - offset) }
        }
        offset += w
    }
}

func fileKind(_ mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFCHR: return "a character device"
    case S_IFBLK: return "a block device"
    case S_IFIFO: return "a FIFO"
    case S_IFSOCK: return "a socket"
    default: return "an unsupported file type"
    }
}
