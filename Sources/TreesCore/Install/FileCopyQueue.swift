#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Regular files handed from an install's walk to a second thread that
/// copies them, so both cores create files: on ext4 the kernel's work per
/// new inode (allocation, journal) is most of a source tree's install, and
/// two copies into different directories ran in 0.45 of the time of one.
/// A file that dedup may link is linked here when it can be (`DedupIndex`),
/// since checking the installed file reads it.
///
/// The walk keeps making directories and copies a file itself whenever the
/// queue is full; the worker copies what it is given. Each job holds its
/// two directories open until it is done, and the queue is short, so the
/// descriptors in use stay bounded. The first error stops the worker; the
/// walk sees it on its next `offer` and at `finish`.
final class FileCopyQueue {
    struct Job {
        let src: Directory
        let dst: Directory
        let name: FileName
        /// The file's path inside the tree, the key of its hash.
        let path: FileName
        let mode: mode_t
        /// Its size is one that an installed file of NAME has: try a link first.
        var mayLink = false
    }

    private struct State {
        var jobs: [Job] = []
        var closed = false
        var failure: (any Error)?
        var files: Int64 = 0
        var bytes: Int64 = 0
    }

    private let state = Mutex(State())
    /// Posted when the queue stops being empty and when it closes; the
    /// worker waits on it only after seeing it empty, so a post it has not
    /// yet consumed at most costs one more look.
    private let wake = Wakeup()
    private let capacity: Int
    private var thread: WorkerThread?
    /// The worker's own copy of the index (its caches of open directories
    /// are its own; the content table is shared and never written).
    private let dedup: DedupIndex
    /// The hashes of what the worker copied: written by the worker alone
    /// until `finish` has joined it, then handed to the walk.
    private let ledger: HashLedger

    init(dedup: DedupIndex = .empty, ledger: HashLedger, capacity: Int = 16) {
        self.dedup = dedup
        self.ledger = ledger
        self.capacity = capacity
    }

    /// Starts the worker; false when no thread could be made (the walk then
    /// copies everything itself).
    func start() -> Bool {
        let worker = WorkerThread { [self] in work() }
        guard worker.start() else { return false }
        thread = worker
        return true
    }

    /// Queues `job` unless the queue is full (then the caller copies it).
    /// - Throws: the worker's first error.
    func offer(_ job: Job) throws -> Bool {
        let (queued, wasEmpty) = try state.withLock { s in
            if let failure = s.failure { throw failure }
            guard s.jobs.count < capacity else { return (false, false) }
            s.jobs.append(job)
            return (true, s.jobs.count == 1)
        }
        if wasEmpty { wake.post() }
        return queued
    }

    /// Files and bytes the worker has copied so far, for progress.
    var copied: (files: Int64, bytes: Int64) { state.withLock { ($0.files, $0.bytes) } }

    /// Lets the worker finish what is queued (or drop it after an error, or
    /// when `abandon`), joins it, and returns the ledger of what it copied.
    /// - Throws: the worker's first error (not when abandoning).
    @discardableResult
    func finish(abandon: Bool = false) throws -> HashLedger {
        state.withLock { s in
            s.closed = true
            if abandon { s.jobs.removeAll() }
        }
        wake.post()
        thread?.join()
        thread = nil
        try state.withLock { s in
            if let failure = s.failure, !abandon { throw failure }
        }
        return ledger
    }

    private func work() {
        var buffer = [UInt8](repeating: 0, count: 1 << 18)
        var dedup = self.dedup
        while true {
            enum Next { case copy(Job), wait, stop }
            let next: Next = state.withLock { s in
                if s.failure != nil { return .stop }
                if !s.jobs.isEmpty { return .copy(s.jobs.removeFirst()) }
                return s.closed ? .stop : .wait
            }
            guard case .copy(let job) = next else {
                if case .stop = next { return }
                wake.wait()
                continue
            }
            do {
                let linked = job.mayLink ? try dedup.link(job.name, from: job.src, to: job.dst, mode: job.mode, buffer: &buffer) : nil
                let hash = try linked ?? copyFile(job.name, from: job.src, to: job.dst, mode: job.mode, buffer: &buffer)
                try ledger.record(job.path, hash)
                state.withLock { s in
                    s.files += 1
                    s.bytes += hash.size
                }
            } catch {
                state.withLock { s in
                    if s.failure == nil { s.failure = error }
                    s.jobs.removeAll()
                }
            }
        }
    }
}

/// Copies one file with a read/write loop that hashes what it writes, so
/// each file is read once (copy_file_range would copy in the kernel but
/// leave the digest to a second read of every byte). The file is created
/// with the mode sealing will give it when the umask keeps all of it (the
/// descriptor that creates it may write it all the same), which saves a
/// chmod here and another in the seal, per file.
func copyFile(_ name: FileName, from src: Directory, to dst: Directory, mode: mode_t, buffer: inout [UInt8]) throws -> FileHash {
    let input = try src.openFile(name)
    let path = dst.child(name)
    let sealed = sealedMode(mode)
    let direct = sealed & processUmask == 0
    let outFD = try syscall("cannot create", path) {
        name.withCName { openat(dst.fd, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, direct ? sealed : mode) }
    }
    let output = FileDescriptor(outFD)
    let hash = try hashReading(input.raw, path: src.child(name), buffer: &buffer) { n, bytes in
        try writeAll(output.raw, bytes, count: n, path: path)
    }
    if !direct {
        try syscall("cannot set mode of", path) { fchmod(output.raw, mode) }
    }
    return hash
}

/// Reads `fd` to its end through `buffer`, hashing every byte; `each` gets
/// each chunk's length and the buffer holding it (a copy writes it out).
func hashReading(_ fd: Int32, path: String, buffer: inout [UInt8],
                 _ each: (Int, [UInt8]) throws -> Void = { _, _ in }) throws -> FileHash {
    let hasher = SHA256()
    var size: Int64 = 0
    while true {
        let n = try buffer.withUnsafeMutableBytes { buf in
            try syscall("cannot read", path) { read(fd, buf.baseAddress, buf.count) }
        }
        if n == 0 { break }
        buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        try each(n, buffer)
        size += Int64(n)
    }
    return FileHash(hash: hasher.finish(), size: size)
}
