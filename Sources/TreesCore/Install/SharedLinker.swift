#if canImport(Glibc)
import Glibc
#endif

/// Places trees' link at each shared path of NAME in a staged tree, before
/// it is sealed and digested, so the link is part of its manifest and
/// `verify` passes: `PATH -> ../…/shared/PATH`, relative from the link's
/// directory to `ROOT/NAME/shared/PATH` (`SharedPath.linkTarget`), with
/// the directories above it made as needed.
///
/// A source with content at a shared path is refused, unless the path was
/// declared `--seed`: then its content is copied into `ROOT/NAME/shared`
/// once, while the shared path is empty, and the tree gets the link in its
/// place. Every path is judged before anything is written, so a refusal
/// leaves `ROOT/NAME/shared` as it was (and staging is dropped).
struct SharedLinker {
    let root: Root
    let declarations: [SharedDeclaration]

    /// - Throws: `.badInput` (65) for content at a shared path (without
    ///   seed), a file or symlink where a parent directory must go, or
    ///   seed content of another kind than declared.
    func link(into tree: Directory, ref: TreeRef) throws {
        var occupants: [SharedOccupant] = []
        for d in declarations {
            let occupant = try SharedOccupant.find(d.path, in: tree)
            try SharedPaths.refuseClash(d, tree: ref, occupant: occupant)
            if case .content(let kind, _) = occupant, kind != d.kind.rawValue {
                throw TreesError(.badInput, "\(ref) has a \(kind) at the shared path \(d.path), declared a \(d.kind.rawValue)",
                                 hint: "Seed content must be of the declared kind; change the source or the declaration.")
            }
            occupants.append(occupant)
        }
        let area = SharedArea(root: root, name: ref.name)
        for (d, occupant) in zip(declarations, occupants) where occupant != .link {
            guard let leaf = d.path.components.last else { continue }
            var dir = tree
            for component in d.path.components.dropLast() {
                try dir.makeDirectory(component, mode: 0o755, existingOK: true)
                dir = try dir.openDirectory(component)
            }
            if case .content = occupant {
                try seed(d, from: dir, leaf, area: area)
                var remover = Remover(device: try tree.status().st_dev)
                try remover.remove(Array(leaf.utf8), in: dir)
            }
            try syscall("cannot create symlink", dir.child(Array(leaf.utf8))) {
                symlinkat(d.path.linkTarget, dir.fd, leaf)
            }
        }
    }

    /// Copies the staged content at `leaf` into `ROOT/NAME/shared/PATH`
    /// when that is empty (made first, with its owner and mode); each copy
    /// is given the declared owner.
    private func seed(_ d: SharedDeclaration, from dir: Directory, _ leaf: String, area: SharedArea) throws {
        try area.ensure(d)
        guard let shared = try area.open(create: false), let parent = try area.parent(of: d, in: shared, create: false) else {
            throw TreesError(.failure, "\(area.path)/\(d.path) vanished while it was being seeded")
        }
        let owner = (d.uid.map { $0 } ?? uid_t.max, d.gid.map { $0 } ?? gid_t.max)
        switch d.kind {
        case .file:
            let target = try parent.openFile(Array(leaf.utf8), flags: O_RDWR | O_NONBLOCK)
            var st = stat()
            try syscall("cannot stat", parent.child(Array(leaf.utf8))) { fstat(target.raw, &st) }
            guard st.st_size == 0 else { return }
            try copyData(from: try dir.openFile(Array(leaf.utf8)), to: target, shown: parent.child(Array(leaf.utf8)))
        case .directory:
            let target = try parent.openDirectory(leaf)
            guard try target.entries().isEmpty else { return }
            try copyTree(from: try dir.openDirectory(leaf), to: target, owner: owner, depth: 0)
        }
    }

    /// Copies a staged directory's entries (files, directories, symlinks as
    /// links) into `dst`, fd-relatively, giving each `owner` (max: unchanged).
    private func copyTree(from src: Directory, to dst: Directory, owner: (uid_t, gid_t), depth: Int) throws {
        guard depth < TreeLimits.maxDepth else { return }
        for entry in try src.entries() {
            let st = try src.status(entry.name)
            let shown = dst.child(entry.name)
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                try dst.makeDirectory(entry.name, mode: (st.st_mode & 0o777) | 0o700)
                let child = try dst.openDirectory(entry.name)
                try syscall("cannot change the owner of", shown) { fchown(child.fd, owner.0, owner.1) }
                try copyTree(from: try src.openDirectory(entry.name), to: child, owner: owner, depth: depth + 1)
            case S_IFREG:
                let fd = try syscall("cannot create", shown) {
                    entry.name.withCName { openat(dst.fd, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (st.st_mode & 0o777) | 0o600) }
                }
                let out = FileDescriptor(fd)
                try syscall("cannot change the owner of", shown) { fchown(out.raw, owner.0, owner.1) }
                try copyData(from: try src.openFile(entry.name), to: out, shown: shown)
            case S_IFLNK:
                let target = try src.readLink(entry.name)
                try syscall("cannot create symlink", shown) {
                    target.withCName { t in entry.name.withCName { symlinkat(t, dst.fd, $0) } }
                }
                try syscall("cannot change the owner of", shown) {
                    entry.name.withCName { fchownat(dst.fd, $0, owner.0, owner.1, AT_SYMLINK_NOFOLLOW) }
                }
            default:
                continue
            }
        }
    }

    /// Whether two manifests of one REV hold the same content once trees'
    /// own shared links are set aside (a link at a valid shared path whose
    /// target is that path's `linkTarget`) with the directories that only
    /// held them. Where one holds such a link, the other must hold the same
    /// link or nothing: content there (a tree installed before a `--seed`
    /// declaration) cannot be compared, so it stays a conflict.
    static func sameContent(_ a: Manifest, _ b: Manifest) -> Bool {
        func isSharedLink(_ e: Manifest.Entry) -> Bool {
            guard e.kind == UInt8(ascii: "l"), let text = String(validating: e.path, as: UTF8.self),
                  let path = try? SharedPath(text) else { return false }
            return e.value == Array(path.linkTarget.utf8)
        }
        let links = Set((a.entries + b.entries).filter(isSharedLink).map(\.path))
        func under(_ path: FileName, _ top: FileName) -> Bool {
            path == top || (path.count > top.count && path.starts(with: top) && path[top.count] == 0x2f)
        }
        for link in links {
            for m in [a, b] where m.entries.contains(where: { under($0.path, link) && !(isSharedLink($0) && $0.path == link) }) {
                return false
            }
        }
        func stripped(_ m: Manifest) -> Manifest {
            var kept = m.entries.filter { e in !links.contains { under(e.path, $0) } }
            // Directories left empty that lie above a link: made to hold it.
            while let i = kept.lastIndex(where: { e in
                e.kind == UInt8(ascii: "d") && e.path != Manifest.rootPath
                    && links.contains { under($0, e.path) }
                    && !kept.contains { $0.path != e.path && under($0.path, e.path) }
            }) {
                kept.remove(at: i)
            }
            return Manifest(entries: kept)
        }
        return !links.isEmpty && stripped(a).digest == stripped(b).digest
    }

    private func copyData(from src: borrowing FileDescriptor, to dst: borrowing FileDescriptor, shown: String) throws {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = try syscall("cannot read a seed for", shown) { buffer.withUnsafeMutableBytes { read(src.raw, $0.baseAddress, $0.count) } }
            if n == 0 { break }
            var offset = 0
            while offset < n {
                offset += try syscall("cannot write", shown) { buffer.withUnsafeBytes { write(dst.raw, $0.baseAddress! + offset, n - offset) } }
            }
        }
        try syscall("cannot sync", shown) { fsync(dst.raw) }
    }
}
