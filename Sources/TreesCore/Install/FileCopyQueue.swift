#if canImport(Glibc)
import Glibc
#endif

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
final class FileCopyQueue: @unchecked Sendable {
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

    private var mutex = pthread_mutex_t()
    private var ready = pthread_cond_t()
    private var jobs: [Job] = []
    private var closed = false
    private var failure: (any Error)?
    /// What the worker copied, read after `finish`.
    private var hashes: [FileName: FileHash] = [:]
    private var files: Int64 = 0
    private var bytes: Int64 = 0
    private let capacity: Int
    private var thread: WorkerThread?
    /// The worker's own copy of the index (its caches of open directories
    /// are its own; the content table is shared and never written).
    private let dedup: DedupIndex

    init(dedup: DedupIndex = .empty, capacity: Int = 16) {
        self.dedup = dedup
        self.capacity = capacity
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&ready, nil)
    }

    deinit {
        pthread_cond_destroy(&ready)
        pthread_mutex_destroy(&mutex)
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
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        if let failure { throw failure }
        guard jobs.count < capacity else { return false }
        jobs.append(job)
        pthread_cond_signal(&ready)
        return true
    }

    /// Files and bytes the worker has copied so far, for progress.
    var copied: (files: Int64, bytes: Int64) {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return (files, bytes)
    }

    /// Lets the worker finish what is queued (or drop it after an error, or
    /// when `abandon`), joins it, and returns the hashes of what it copied.
    /// - Throws: the worker's first error (not when abandoning).
    @discardableResult
    func finish(abandon: Bool = false) throws -> [FileName: FileHash] {
        pthread_mutex_lock(&mutex)
        closed = true
        if abandon { jobs.removeAll() }
        pthread_cond_signal(&ready)
        pthread_mutex_unlock(&mutex)
        thread?.join()
        thread = nil
        if let failure, !abandon { throw failure }
        return hashes
    }

    private func work() {
        var buffer = [UInt8](repeating: 0, count: 1 << 18)
        var dedup = self.dedup
        while true {
            pthread_mutex_lock(&mutex)
            while jobs.isEmpty && !closed { pthread_cond_wait(&ready, &mutex) }
            guard !jobs.isEmpty, failure == nil else {
                pthread_mutex_unlock(&mutex)
                return
            }
            let job = jobs.removeFirst()
            pthread_mutex_unlock(&mutex)
            do {
                let linked = job.mayLink ? try dedup.link(job.name, from: job.src, to: job.dst, mode: job.mode, buffer: &buffer) : nil
                let hash = try linked ?? copyFile(job.name, from: job.src, to: job.dst, mode: job.mode, buffer: &buffer)
                pthread_mutex_lock(&mutex)
                hashes[job.path] = hash
                files += 1
                bytes += hash.size
                pthread_mutex_unlock(&mutex)
            } catch {
                pthread_mutex_lock(&mutex)
                if failure == nil { failure = error }
                jobs.removeAll()
                pthread_mutex_unlock(&mutex)
            }
        }
    }
}

/// Copies one file with a read/write loop that hashes what it writes, so
/// each file is read once (copy_file_range would copy in the kernel but
/// leave the digest to a second read of every byte).
func copyFile(_ name: FileName, from src: Directory, to dst: Directory, mode: mode_t, buffer: inout [UInt8]) throws -> FileHash {
    let input = try src.openFile(name)
    let path = dst.child(name)
    let outFD = try syscall("cannot create", path) {
        name.withCName { openat(dst.fd, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode) }
    }
    let output = FileDescriptor(outFD)
    let hash = try hashReading(input.raw, path: src.child(name), buffer: &buffer) { n, bytes in
        try writeAll(output.raw, bytes, count: n, path: path)
    }
    try syscall("cannot set mode of", path) { fchmod(output.raw, mode) }
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
