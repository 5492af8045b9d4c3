#if canImport(Glibc)
import Glibc
#endif
import CArchive
import CTreesShim
import Synchronization

/// What the decoding thread hands the writing thread, in archive order:
/// each member's header, then (a regular file's) data in chunks and its
/// hash, or the error that ends the archive where the decoder met it.
enum ArchiveItem {
    case member(ArchiveHeader)
    case data([UInt8])
    /// The end of a regular file's data: its SHA-256 and size.
    case end(FileHash)
    /// Damage the decoder met here; the writer throws it when it gets here,
    /// so an earlier member's error (a refused path, a full disk) still wins.
    case failure(TreesError)
    /// The tar stream ended and libarchive closed it cleanly.
    case finished
}

/// A member's header as libarchive gave it: raw bytes, never re-encoded,
/// copied out because libarchive reuses its entry for the next header.
struct ArchiveHeader {
    let path: FileName
    let hardlink: FileName?
    let symlink: FileName?
    /// `S_IFMT` bits.
    let type: mode_t
    let perm: mode_t

    /// Whether the writer reads this member's data: exactly when the old
    /// single loop did (a regular file, not a hard link, not the tree's
    /// own `./`). A member the writer refuses first never gets that far.
    var carriesData: Bool {
        hardlink == nil && type == S_IFREG
            && path.split(separator: 0x2f, omittingEmptySubsequences: true).contains { $0 != [0x2e] }
    }
}

/// The hand-off between the decoding thread and the writing thread,
/// bounded in data bytes and in items (a small file is two or three items),
/// so at most about `maxBytes` plus one chunk of file data is in flight,
/// whatever the archive holds. `cancel` (the writer's error, or the
/// compressed-stream check's) releases a decoder blocked on a full queue.
final class ArchiveQueue {
    private struct State {
        var items: [ArchiveItem] = []
        var head = 0
        var bytes = 0
        var cancelled = false
        /// Who sleeps on its semaphore, so the other posts only then.
        var producerWaiting = false
        var consumerWaiting = false
    }
    private let state = Mutex(State())
    /// "Look again": posted to a waiting writer when an item arrives; to a
    /// waiting decoder once the queue has drained to half its bounds (not
    /// at every item taken: a full queue would otherwise wake the decoder
    /// for each one, two futex calls and two switches per item); and both
    /// on cancel.
    private let readable = Wakeup()
    private let writable = Wakeup()
    let maxBytes: Int
    let maxItems: Int

    init(maxBytes: Int = 4 << 20, maxItems: Int = 4096) {
        self.maxBytes = maxBytes
        self.maxItems = maxItems
    }

    struct Cancelled: Error {}

    /// Appends `item`, waiting while the queue is full (never when `wait`
    /// is false: the writer drives the decoder itself). False once cancelled.
    func push(_ item: ArchiveItem, wait: Bool = true) -> Bool {
        let size: Int
        if case .data(let bytes) = item { size = bytes.count } else { size = 0 }
        while true {
            enum Outcome { case pushed(wake: Bool), full, cancelled }
            let outcome: Outcome = state.withLock { s in
                if s.cancelled { return .cancelled }
                let count = s.items.count - s.head
                if wait && (count >= maxItems || (size > 0 && s.bytes >= maxBytes)) {
                    s.producerWaiting = true
                    return .full
                }
                s.items.append(item)
                s.bytes += size
                let wake = s.consumerWaiting
                s.consumerWaiting = false
                return .pushed(wake: wake)
            }
            switch outcome {
            case .cancelled: return false
            case .pushed(let wake):
                if wake { readable.post() }
                return true
            case .full: writable.wait()
            }
        }
    }

    /// The next item; nil when empty and `wait` is false.
    /// - Throws: `Cancelled` once cancelled.
    func take(wait: Bool = true) throws -> ArchiveItem? {
        while true {
            enum Outcome { case item(ArchiveItem, wake: Bool), empty, cancelled }
            let outcome: Outcome = state.withLock { s in
                if s.cancelled { return .cancelled }
                guard s.head < s.items.count else {
                    if wait { s.consumerWaiting = true }
                    return .empty
                }
                let item = s.items[s.head]
                s.items[s.head] = .finished   // drop the reference to its bytes now
                s.head += 1
                if case .data(let bytes) = item { s.bytes -= bytes.count }
                if s.head >= 1024 && s.head * 2 >= s.items.count {
                    s.items.removeFirst(s.head)
                    s.head = 0
                }
                var wake = false
                if s.producerWaiting && (s.items.count - s.head) * 2 <= maxItems && s.bytes * 2 <= maxBytes {
                    s.producerWaiting = false
                    wake = true
                }
                return .item(item, wake: wake)
            }
            switch outcome {
            case .cancelled: throw Cancelled()
            case .item(let item, let wake):
                if wake { writable.post() }
                return item
            case .empty:
                if !wait { return nil }
                readable.wait()
            }
        }
    }

    func cancel() {
        state.withLock { s in
            s.cancelled = true
            s.items.removeAll()
            s.head = 0
            s.bytes = 0
        }
        readable.post()
        writable.post()
    }
}

/// libarchive's side of an extraction: reads headers and data and hashes
/// the data, one step at a time, on its own thread (or, when no thread can
/// be made, driven by the writer whenever its queue runs dry). It checks
/// nothing about members: every member check stays with the writer, in
/// the order the single loop made them.
final class ArchiveDecoder {
    private let archive: OpaquePointer
    private let queue: ArchiveQueue
    private let bad: (String) -> TreesError
    /// The current regular file's data, while it is being read.
    private var current: (shown: String, hasher: SHA256, size: Int64)?
    private var done = false
    private var buffer = [UInt8](repeating: 0, count: chunk)
    /// Pushes never wait when the writer drives the decoder.
    var blocking = true
    static let chunk = 1 << 18

    init(archive: OpaquePointer, queue: ArchiveQueue, bad: @escaping (String) -> TreesError) {
        self.archive = archive
        self.queue = queue
        self.bad = bad
    }

    private func message() -> String {
        CT_archive_error_string(archive).map { String(cString: $0) } ?? "unknown error"
    }

    /// Runs to the end of the archive or until cancelled.
    func run() {
        while step() {}
    }

    /// One header, or one chunk of data; false when nothing more will come.
    func step() -> Bool {
        if done { return false }
        if let file = current {
            let n = buffer.withUnsafeMutableBytes { CT_archive_read_data(archive, $0.baseAddress, $0.count) }
            if n < 0 { return finish(.failure(bad("damaged archive at \(file.shown): \(message())"))) }
            if n == 0 {
                current = nil
                return push(.end(FileHash(hash: file.hasher.finish(), size: file.size)))
            }
            // Its own exact-size copy: what the queue counts is what it holds.
            let bytes = Array(buffer[0..<n])
            bytes.withUnsafeBytes { file.hasher.update($0) }
            current?.size += Int64(n)
            return push(.data(bytes))
        }
        var entry: OpaquePointer?
        let rc = CT_archive_read_next_header(archive, &entry)
        if rc == ARCHIVE_EOF {
            // Whatever the tar reader left unread must still decode cleanly.
            if CT_archive_read_close(archive) != ARCHIVE_OK {
                return finish(.failure(bad("damaged archive: \(message())")))
            }
            return finish(.finished)
        }
        // ARCHIVE_RETRY (a damaged header) counts as damage, not as a member.
        guard rc == ARCHIVE_OK || rc == ARCHIVE_WARN, let entry else {
            return finish(.failure(bad("damaged archive: \(message())")))
        }
        // The raw form: the `_utf8` and wide forms re-encode, and
        // String(cString:) would turn invalid bytes into U+FFFD.
        guard let rawPath = CT_archive_entry_pathname(entry) else {
            return finish(.failure(bad("archive member with an unreadable name")))
        }
        let header = ArchiveHeader(
            path: FileName(cString: rawPath),
            hardlink: CT_archive_entry_hardlink(entry).map { FileName(cString: $0) },
            symlink: CT_archive_entry_symlink(entry).map { FileName(cString: $0) },
            type: mode_t(CT_archive_entry_filetype(entry)) & S_IFMT,
            perm: mode_t(CT_archive_entry_perm(entry)) & 0o7777 & ~0o6022)
        if header.carriesData { current = (header.path.display, SHA256(), 0) }
        return push(.member(header))
    }

    private func push(_ item: ArchiveItem) -> Bool {
        if queue.push(item, wait: blocking) { return true }
        done = true
        return false
    }

    private func finish(_ item: ArchiveItem) -> Bool {
        _ = queue.push(item, wait: blocking)
        done = true
        return false
    }

    deinit {
        // A hasher left by a cancelled file is freed with its context.
        if let file = current { _ = file.hasher.finish() }
    }
}

/// The writer's source of items: the queue, or, when no decoding thread
/// could be made, the decoder stepped here whenever the queue is empty.
struct ArchiveFeed {
    let queue: ArchiveQueue
    let decoder: ArchiveDecoder?

    func next() throws -> ArchiveItem {
        while true {
            if let item = try queue.take(wait: decoder == nil) { return item }
            guard let decoder, decoder.step() else {
                if let item = try queue.take(wait: false) { return item }
                throw ArchiveQueue.Cancelled()
            }
        }
    }
}

/// The directory the previous member was placed in, kept open: members of
/// one directory usually follow each other, and walking to it again (a
/// `mkdirat` and an `openat` per level) was most of the writer's system
/// calls. Sound because a directory of the tree, once made or opened
/// through real directories, stays that directory: no member may replace a
/// directory (`replaceable`), and links and files are made with O_EXCL
/// semantics (`openat`, `symlinkat`, `linkat` fail on an existing name).
/// One descriptor more than the single loop held.
struct ParentCache {
    private var components: ArraySlice<FileName>?
    private var directory: Directory?

    mutating func directory(_ path: ArraySlice<FileName>, open: () throws -> Directory) throws -> Directory {
        if let directory, let components, components.elementsEqual(path) { return directory }
        directory = nil
        components = nil
        let opened = try open()
        directory = opened
        components = path
        return opened
    }
}
