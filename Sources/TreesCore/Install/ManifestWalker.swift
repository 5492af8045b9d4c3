#if canImport(Glibc)
import Glibc
#endif
import CTreesShim

/// A file's SHA-256 (hex) and size, computed while it was written.
struct FileHash {
    let hash: String
    let size: Int64
}

/// Walks a tree fd-relatively and hands out its manifest entries one at a
/// time (`next`) in the order the manifest stores them: ascending bytes of
/// the whole path, the tree's own directory as `.` in its place among them.
///
/// That order is not a plain depth-first walk: "a-b" sorts between "a" and
/// "a/x" ('-' is below '/'). So each directory's listing is sorted, and a
/// subdirectory "a" stands in it twice: as "a" (its own entry) and as "a/"
/// (its content, walked when "a/" comes up). Paths come out in order with
/// one listing held per open level, so the manifest streams to its writer,
/// verify compares two streams, and the seal merges the hashes the copier
/// recorded (`HashLedger`), none of them holding the tree in memory.
struct Walker {
    enum Pass {
        /// Record the tree as it is (verify).
        case record
        /// Record and seal a staged tree (install).
        case seal
        /// Record a source directory with the modes a copy would get, sealed.
        case predictCopy
    }
    let pass: Pass
    var seal: Bool { pass == .seal }
    let device: dev_t
    /// The hashes computed while the tree was written (seal only).
    var known: HashLedger.Lookup?
    let progress: ProgressHandler?
    var tally = Progress(phase: "hashing", files: 0, bytes: 0)
    var buffer = [UInt8](repeating: 0, count: 1 << 18)

    init(pass: Pass, device: dev_t, known: HashLedger.Lookup? = nil, progress: ProgressHandler?) {
        self.pass = pass
        self.device = device
        self.known = known
        self.progress = progress
    }

    /// One name of a listing: an entry, or the content of the subdirectory
    /// `name` (sorting as "name/"), or the top directory itself (as ".").
    struct Item {
        enum Kind { case entry, content, top }
        let name: FileName
        let kind: Kind
        var key: FileName {
            switch kind {
            case .entry: name
            case .content: name + [0x2f]
            case .top: Manifest.rootPath
            }
        }
    }

    struct Frame {
        let dir: Directory
        let prefix: FileName
        let depth: Int
        /// Sorted descending, so the next in order is the last.
        var pending: [Item]
    }

    /// With `.seal`, whether the top directory is sealed too. The installer
    /// leaves it writable by its owner until it has moved the tree out of
    /// staging (see `Transit`), and seals it then.
    var sealsTop = true

    private var stack: [Frame] = []
    private var started = false

    func sealed(_ mode: mode_t) -> UInt32 { UInt32(sealedMode(mode)) }

    func entry(_ kind: Character, _ st: stat, size: Int64 = 0, value: [UInt8] = [], path: FileName) -> Manifest.Entry {
        let mode: UInt32
        switch pass {
        case _ where kind == "l" || kind == "m": mode = 0
        case .record: mode = UInt32(st.st_mode) & 0o7777
        case .seal: mode = sealed(st.st_mode)
        case .predictCopy:
            // As DirectoryCopier creates it (no setuid/setgid, no group or
            // other write; owner rw for files, rwx for directories), then sealed.
            let copied = st.st_mode & 0o7777 & ~0o6022 | (kind == "d" ? 0o700 : 0o600)
            mode = sealed(copied)
        }
        return .init(kind: UInt8(ascii: kind.unicodeScalars.first!), mode: mode, size: size, value: value, path: path,
                     uid: st.st_uid, gid: st.st_gid)
    }

    static func listing(_ dir: Directory, top: Bool = false) throws -> [Item] {
        var items = try dir.entries().map { Item(name: $0.name, kind: .entry) }
        if top { items.append(Item(name: [], kind: .top)) }
        return items.sorted { compareBytes($0.key, $1.key) > 0 }
    }

    /// Puts `item` in its place in a listing sorted descending.
    static func insert(_ item: Item, into pending: inout [Item]) {
        let key = item.key
        var low = 0, high = pending.count
        while low < high {
            let mid = (low + high) / 2
            if compareBytes(pending[mid].key, key) > 0 { low = mid + 1 } else { high = mid }
        }
        pending.insert(item, at: low)
    }

    /// Walks the whole tree, handing each entry to `each` in order.
    mutating func walk(_ top: Directory, _ each: (Manifest.Entry) throws -> Void) throws {
        while let e = try next(top) { try each(e) }
    }

    /// The next entry in manifest order, or nil when the walk is done.
    mutating func next(_ top: Directory) throws -> Manifest.Entry? {
        if !started {
            started = true
            stack = [Frame(dir: top, prefix: [], depth: 0, pending: try Self.listing(top, top: true))]
        }
        while let last = stack.indices.last {
            guard let item = stack[last].pending.popLast() else {
                let frame = stack.removeLast()
                if seal && (sealsTop || !stack.isEmpty) { try sealDirectory(frame.dir) }
                continue
            }
            let dir = stack[last].dir
            let prefix = stack[last].prefix
            let path = prefix.isEmpty ? item.name : prefix + [0x2f] + item.name
            switch item.kind {
            case .top:
                return entry("d", try dir.status(), path: Manifest.rootPath)
            case .content:
                let child = try dir.openDirectory(item.name)
                let st = try child.status()
                guard st.st_dev == device else {
                    throw TreesError(.failure, "\(dir.child(item.name)) changed while it was walked",
                                     hint: "Nothing may change a tree while trees reads it; try again.")
                }
                stack.append(Frame(dir: child, prefix: path, depth: stack[last].depth + 1, pending: try Self.listing(child)))
                continue
            case .entry:
                break
            }
            let st = try dir.status(item.name)
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                if st.st_dev != device { return entry("m", st, path: path) }
                let depth = stack[last].depth + 1
                if depth > TreeLimits.maxDepth {
                    // A directory here could only hold entries past the limit.
                    if seal {
                        throw TreesError(.badInput, "\(dir.child(item.name)) is \(depth) directories deep; trees allows at most \(TreeLimits.maxDepth) path components",
                                         hint: "Nothing was installed; flatten the source.")
                    }
                    return entry("o", st, path: path)
                }
                Self.insert(Item(name: item.name, kind: .content), into: &stack[last].pending)
                return entry("d", st, path: path)
            case S_IFREG:
                let (hash, size) = try hashFile(dir, item.name, path: path)
                return entry("f", st, size: size, value: Array(hash.utf8), path: path)
            case S_IFLNK:
                let target = try dir.readLink(item.name)
                tally.files += 1
                return entry("l", st, size: Int64(target.count), value: target, path: path)
            default:
                return entry("o", st, path: path)
            }
        }
        return nil
    }

    mutating func hashFile(_ dir: Directory, _ name: FileName, path relative: FileName) throws -> (String, Int64) {
        if let k = try known?.hash(for: relative) {
            // Hashed while written into our own staging; only the seal is left.
            // A file hard-linked from an installed tree is sealed already:
            // leave its inode (shared with that tree) untouched.
            if seal, case let st = try dir.status(name), UInt32(st.st_mode) & 0o7777 != sealed(st.st_mode) {
                try syscall("cannot make read-only", dir.child(name)) {
                    name.withCName { fchmodat(dir.fd, $0, mode_t(sealed(st.st_mode)), 0) }
                }
            }
            tally.files += 1
            tally.bytes += k.size
            if tally.files % 256 == 0 { progress?(tally) }
            return (k.hash, k.size)
        }
        let file = try dir.openFile(name)
        let path = dir.child(name)
        let read = try hashReading(file.raw, path: path, buffer: &buffer)
        tally.bytes += read.size
        if seal {
            var st = stat()
            try syscall("cannot stat", path) { fstat(file.raw, &st) }
            try syscall("cannot make read-only", path) { fchmod(file.raw, mode_t(sealed(st.st_mode))) }
        }
        tally.files += 1
        if tally.files % 256 == 0 { progress?(tally) }
        return (read.hash, read.size)
    }

    func sealDirectory(_ dir: Directory) throws {
        let st = try dir.status()
        try syscall("cannot make read-only", dir.path) { fchmod(dir.fd, mode_t(sealed(st.st_mode))) }
    }
}
