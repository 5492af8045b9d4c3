#if canImport(Glibc)
import Glibc
#endif
import CTreesShim

/// A file's SHA-256 (hex) and size, computed while it was written.
struct FileHash {
    let hash: String
    let size: Int64
}

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
    let known: [FileName: FileHash]
    let progress: ProgressHandler?
    var entries: [Manifest.Entry] = []
    var tally = Progress(phase: "hashing", files: 0, bytes: 0)
    var buffer = [UInt8](repeating: 0, count: 1 << 18)

    init(pass: Pass, device: dev_t, known: [FileName: FileHash], progress: ProgressHandler?) {
        self.pass = pass
        self.device = device
        self.known = known
        self.progress = progress
    }

    struct Frame {
        let dir: Directory
        let prefix: FileName
        let depth: Int
        var pending: [DirEntry]
    }

    /// With `.seal`, whether the top directory is sealed too. The installer
    /// leaves it writable by its owner until it has moved the tree out of
    /// staging (see `Transit`), and seals it then.
    var sealsTop = true

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

    mutating func walk(_ top: Directory) throws {
        entries.append(entry("d", try top.status(), path: Manifest.rootPath))
        var stack = [Frame(dir: top, prefix: [], depth: 0, pending: try top.entries())]
        while let last = stack.indices.last {
            guard let item = stack[last].pending.popLast() else {
                let frame = stack.removeLast()
                if seal && (sealsTop || !stack.isEmpty) { try sealDirectory(frame.dir) }
                continue
            }
            let dir = stack[last].dir
            let prefix = stack[last].prefix
            let path = prefix.isEmpty ? item.name : prefix + [0x2f] + item.name
            let st = try dir.status(item.name)
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                if st.st_dev != device {
                    entries.append(entry("m", st, path: path))
                    continue
                }
                let depth = stack[last].depth + 1
                if depth > TreeLimits.maxDepth {
                    // A directory here could only hold entries past the limit.
                    if seal {
                        throw TreesError(.badInput, "\(dir.child(item.name)) is \(depth) directories deep; trees allows at most \(TreeLimits.maxDepth) path components",
                                         hint: "Nothing was installed; flatten the source.")
                    }
                    entries.append(entry("o", st, path: path))
                    continue
                }
                entries.append(entry("d", st, path: path))
                let child = try dir.openDirectory(item.name)
                stack.append(Frame(dir: child, prefix: path, depth: depth, pending: try child.entries()))
            case S_IFREG:
                let (hash, size) = try hashFile(dir, item.name, path: path)
                entries.append(entry("f", st, size: size, value: Array(hash.utf8), path: path))
            case S_IFLNK:
                let target = try dir.readLink(item.name)
                entries.append(entry("l", st, size: Int64(target.count), value: target, path: path))
                tally.files += 1
            default:
                entries.append(entry("o", st, path: path))
            }
        }
    }

    mutating func hashFile(_ dir: Directory, _ name: FileName, path relative: FileName) throws -> (String, Int64) {
        if let k = known[relative] {
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
