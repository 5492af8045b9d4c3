#if canImport(Glibc)
import Glibc
#endif
import CTreesShim

/// Builds a tree in `ROOT/.trees/staging/`, seals it (read-only, fsynced,
/// digested) and moves it to `ROOT/NAME/REV`, where it appears complete and
/// read-only in one `rename(2)` (from `.REV.arriving` beside it: see `Transit`).
///
/// Crash safety: until the renames, only staging holds anything, and staging
/// containers are locked with `flock` by their installer, so a later install
/// removes the unlocked (dead) ones. The row is written `installing` with its
/// digest and manifest before the renames and `ready` after them; the next
/// install, gc or `doctor --repair` adopts the directory of an `installing`
/// row if it left staging (a tree that left staging is always complete) or
/// drops the row if it did not (see `commit`).
public struct Installer {
    public let root: Root
    public let store: Store
    public var progress: ProgressHandler?

    public init(root: Root, store: Store, progress: ProgressHandler? = nil) {
        self.root = root
        self.store = store
        self.progress = progress
    }

    /// - Parameter dedup: hard-link each file whose content, mode and owner
    ///   match a file of a ready tree of the same NAME (`DedupIndex`) instead
    ///   of copying it; false copies everything (`--no-dedup`).
    public func install(_ ref: TreeRef, from source: Source, dedup: Bool = true) throws -> InstallResult {
        // A directory source is opened once, here: what is checked is what is copied.
        var sourceDir: Directory?
        if case .directory(let path) = source {
            let dir = try Directory.open(path)
            try Source.refuseOverlap(source: dir, root: root.dir, shown: path, rootShown: root.path)
            sourceDir = dir
            // A retried rollout: when NAME@REV is installed, read the source
            // once and compare digests before writing anything. A mismatch
            // goes on to a full install, whose commit judges it (a conflict
            // is refused there with 65).
            if let row = try store.tree(ref), [.ready, .condemned].contains(row.state), let digest = row.digest,
               try Manifest.predictedDigest(ofSource: dir, progress: progress) == digest {
                // Still settle what killed installs left in staging, as a full
                // install would; a busy install lock means another installer will.
                try root.withLock(.install, wait: false) { try removeStaleStaging(try root.staging()) }
                return InstallResult(tree: row, path: root.treePath(ref), alreadyInstalled: true)
            }
        }
        let staging = try root.staging()
        // Cleaning and creating happen under the install lock, so a cleaner
        // never sees a container in the instant before its owner locks it.
        let container = try root.withLock(.install) {
            try removeStaleStaging(staging)
            return try makeContainer(staging, for: ref)
        }
        defer { try? removeContainer(container.name, in: staging) }

        try container.dir.makeDirectory("tree", mode: 0o700)
        let tree = try container.dir.openDirectory("tree")
        let index = dedup ? try DedupIndex.load(for: ref.name, root: root, store: store, scratch: container.dir) : .empty
        let known = try fill(tree, from: source, sourceDir: sourceDir, scratch: container.dir, dedup: index)
        // Shared paths are linked in before sealing, so the links are in the manifest.
        try SharedLinker(root: root, declarations: try store.sharedDeclarations(of: ref.name)).link(into: tree, ref: ref)
        // The tree's own directory is readable by jobs of every user, as the
        // root of an installed program usually is. Its write bits stay until
        // it has left staging (`Transit`); everything below is sealed now.
        try syscall("cannot set mode of", tree.path) { fchmod(tree.fd, 0o755) }
        let manifest = try Manifest.write(of: tree, pass: .seal, known: try HashLedger.lookup(known), scratch: container.dir,
                                          progress: progress, sealsTop: false)
        // Durable before the rename, in one call for the whole tree.
        try Manifest.syncTree(tree)
        try syscall("cannot sync", container.dir.path) { fsync(container.dir.fd) }

        // One installer at a time from here: the commit phase is short, and
        // serialising it makes crash recovery of `installing` rows exact.
        return try root.withLock(.install) { try commit(ref, manifest: manifest, container: container.dir, tree: tree) }
    }

    /// Writes the content into `tree`; returns the ledgers of the hashes
    /// computed while writing (relative path → SHA-256, size), so sealing
    /// reads nothing again. `scratch` is the staging container: the ledgers
    /// and a git export go there.
    private func fill(_ tree: Directory, from source: Source, sourceDir: Directory?, scratch: Directory,
                      dedup: DedupIndex) throws -> [HashLedger] {
        switch source {
        case .directory(let path):
            var copier = try DirectoryCopier(progress: progress, scratch: scratch)
            copier.dedup = dedup
            try copier.copy(from: try sourceDir ?? Directory.open(path), to: tree)
            progress?(copier.tally)
            return copier.ledgers
        case .archive(let path):
            var extractor = try ArchiveExtractor(progress: progress, archivePath: path, scratch: scratch)
            try extractor.extract(into: tree)
            progress?(extractor.tally)
            return [extractor.ledger]
        case .git(let repo, let ref):
            let tar = try GitExporter(source: repo, ref: ref, scratch: scratch.path).export()
            var extractor = try ArchiveExtractor(progress: progress, archivePath: tar, scratch: scratch)
            try extractor.extract(into: tree)
            progress?(extractor.tally)
            return [extractor.ledger]
        }
    }

    /// The final steps, with the install lock held: settle what killed
    /// installs left, decide, write the intent, rename, write the outcome.
    ///
    /// Crash safety: the intent (an `installing` row with its digest and its
    /// manifest) is committed before the renames, and `ready` only after the
    /// name directory is fsynced, so the database never claims a tree the
    /// disk lacks. The tree moves in two renames (see `Transit`): out of
    /// staging to `ROOT/NAME/.REV.arriving` with its top still writable by
    /// its owner, then, its top sealed and synced, to REV. A kill in between
    /// leaves an `installing` row that `recoverInterrupted` settles from the
    /// disk: a tree that left staging is always complete (it was sealed and
    /// fsynced there), so one in transit is sealed and put at REV, and one
    /// at REV is adopted with the manifest the intent recorded; otherwise
    /// the row goes.
    private func commit(_ ref: TreeRef, manifest: BuiltManifest, container: Directory, tree: Directory) throws -> InstallResult {
        let digest = manifest.digest
        let path = root.treePath(ref)
        try recoverInterrupted()
        guard let nameDir = try root.nameDirectory(ref.name, create: true) else {
            throw TreesError(.failure, "\(root.path)/\(ref.name) vanished while installing", hint: "Try again.")
        }

        let existing: TreeRecord? = try store.write {
            if let r = try store.tree(ref) {
                switch r.state {
                case .ready, .condemned:
                    return r
                case .deleting:
                    throw TreesError(.temporary, "\(ref) is being deleted",
                                     hint: "Run the install again once `trees gc` has finished.")
                case .installing:
                    throw TreesError(.failure, "\(ref) is still marked installing after recovery",
                                     hint: "Run `trees doctor` to see why.")
                case .deleted:
                    break
                }
            }
            if try nameDir.exists(ref.rev.value) {
                throw TreesError(.badInput, "\(path) exists but is not a tree trees installed",
                                 hint: "Move it out of the way and install again.")
            }
            try store.beginInstall(ref, path: path, manifest: manifest)
            return nil
        }
        if let existing {
            // Shared paths declared or forgotten since change the links a tree
            // gets, not its content: a retried rollout is still a no-op.
            // Both manifests are loaded only when the digests differ (a rare,
            // small case: shared paths declared since).
            guard try existing.digest == digest
                    || store.manifest(treeID: existing.id).flatMap(Manifest.decode).map({ SharedLinker.sameContent($0, try manifest.loaded()) }) == true else {
                throw TreesError(.badInput, "\(ref) is already installed with different content (\(existing.digest ?? "no digest"), new \(digest))",
                                 hint: "A revision's content never changes; install it under a new REV.")
            }
            return InstallResult(tree: existing, path: path, alreadyInstalled: true)
        }

        let hidden = Transit.arriving.name(ref.rev)
        let rc = CT_renameat_noreplace(container.fd, "tree", nameDir.fd, hidden)
        if rc != 0 {
            let err = errno
            _ = try? store.write { if try store.tree(ref)?.state == .installing { try store.abandonInstall(ref) } }
            throw TreesError.system("cannot move the staged tree into", "\(root.path)/\(ref.name)/\(hidden)", errno: err)
        }
        try Transit.seal(tree)
        try syscall("cannot move the installed tree into", path,
                    hint: "It stays complete at \(root.path)/\(ref.name)/\(hidden); `trees doctor` reports it.") {
            CT_renameat_noreplace(nameDir.fd, hidden, nameDir.fd, ref.rev.value)
        }
        try nameDir.sync()
        let record = try store.write {
            try store.markInstalled(ref, detail: digest)
            guard let row = try store.tree(ref) else {
                throw TreesError(.failure, "the row of \(ref) vanished during install")
            }
            return row
        }
        TreeLock.prepare(ref, in: root)
        return InstallResult(tree: record, path: path, alreadyInstalled: false)
    }

    /// Settles the `installing` rows of killed installs when no install is in
    /// its final steps (the install lock is free); gc and doctor call this.
    /// - Returns: false when a live install holds the lock (nothing was done).
    @discardableResult
    public func recover() throws -> Bool {
        try root.withLock(.install, wait: false) { try recoverInterrupted() } != nil
    }

    /// With the install lock held, every `installing` row is a killed
    /// install's intent: adopt its directory if it left staging (sealed and
    /// put at REV first if it was still in transit), drop the row if not. A
    /// row from before intents carried manifests gets one built from the
    /// disk, and is adopted only if that matches its digest.
    func recoverInterrupted() throws {
        for row in try store.trees() where row.state == .installing {
            let onDisk = try root.hasTree(row.ref) || root.settleTransit(row.ref, .arriving)
            guard onDisk else {
                try store.write { if try store.tree(row.ref)?.state == .installing { try store.abandonInstall(row.ref) } }
                continue
            }
            var missingManifest: BuiltManifest?
            if try !store.hasManifest(treeID: row.id) {
                guard let nameDir = try root.nameDirectory(row.ref.name) else { continue }
                let built = try Manifest.write(of: try nameDir.openDirectory(row.ref.rev.value), pass: .record,
                                               scratch: try root.staging(), progress: nil)
                guard built.digest == row.digest else { continue } // not what was intended: doctor reports it
                missingManifest = built
            }
            try store.write {
                if let missingManifest { try store.saveManifest(missingManifest, treeID: row.id) }
                try store.markInstalled(row.ref, detail: "recovered after an interrupted install")
            }
        }
    }

    // MARK: staging

    /// `dir`'s own descriptor holds the container's lock.
    struct Container {
        let name: FileName
        let dir: Directory
    }

    /// A fresh, locked staging container `NAME@REV.PID.RANDOM`.
    private func makeContainer(_ staging: Directory, for ref: TreeRef) throws -> Container {
        var random: UInt64 = 0
        _ = CT_getrandom(&random, 8)
        let name = Array("\(ref).\(getpid()).\(String(random, radix: 36))".utf8)
        try staging.makeDirectory(name, mode: 0o700)
        let dir = try staging.openDirectory(name)
        // The lock lives on the directory itself: once this process dies,
        // for any reason, the next install can take it and clean up.
        _ = try lockFile(dir.fd, waitingUpTo: root.settings.lockTimeout, path: dir.path)
        return Container(name: name, dir: dir)
    }

    private func removeContainer(_ name: FileName, in staging: Directory) throws {
        var remover = Remover(device: try staging.status().st_dev)
        try remover.remove(name, in: staging)
    }

    /// Removes staging containers whose installer is gone (their lock is free).
    func removeStaleStaging(_ staging: Directory) throws {
        for entry in try staging.entries() {
            guard let dir = try? staging.openDirectory(entry.name) else {
                try? removeContainer(entry.name, in: staging)
                continue
            }
            // What a dead installer left can never stop a new install: a
            // part that cannot go now (a mount inside, an error) stays for
            // the next one, and this install goes on in its own container.
            if try lockFile(dir.fd, waitingUpTo: nil, path: dir.path) {
                try? removeContainer(entry.name, in: staging)
            }
        }
    }
}

extension Installer {
    /// Keeps with the installed tree `ref` how its processes are told to
    /// finish (`install --drain`), for a `trees drain` given no protocol.
    /// Written after the install: a kill in between leaves the tree without
    /// it, and the install run again (a no-op for the same content) adds it.
    public func keepDrainProtocol(_ drainProtocol: DrainProtocol, for ref: TreeRef) throws {
        try store.write {
            guard try store.tree(ref)?.state == .ready else { throw TreesError(.notFound, "no tree \(ref)") }
            try store.setDrainProtocol(ref, drainProtocol.description)
        }
    }
}
