#if canImport(Glibc)
import Glibc
#endif

/// `trees doctor`: every disagreement between the database and the disk,
/// and with `repair` the safe fixes.
///
/// What a repair may do is bounded by one rule: nothing at `ROOT/NAME/REV`
/// is ever deleted. Trees the database forgot are adopted (digested, recorded
/// ready); rows that claim a missing directory are marked deleted; half-steps
/// of killed commands are finished or undone by the same recovery code that
/// install, activate and gc run (a tree in transit is put back at REV); the only files removed are staging
/// containers whose installer is gone and trash entries a gc already decided
/// to delete. A damaged database is reported, never overwritten; a missing,
/// empty or foreign one is moved aside (if present) and rebuilt from the disk.
public struct Doctor {
    public let root: Root

    public init(root: Root) {
        self.root = root
    }

    /// Examines the root; with `repair`, repairs and examines again. Each
    /// finding of the first pass is `repaired` exactly when the second pass
    /// no longer finds it, so the report never claims a fix that did not hold.
    public func run(repair: Bool) throws -> [Finding] {
        let before = try examine()
        guard repair, !before.isEmpty else { return before }
        try self.repair(before)
        let after = try examine()
        func key(_ f: Finding) -> String { "\(f.kind) \(f.subject)" }
        let remaining = Set(after.map(key))
        let seen = Set(before.map(key))
        return before.map { var f = $0; f.repaired = !remaining.contains(key(f)); return f }
            + after.filter { !seen.contains(key($0)) }
    }

    // MARK: examining

    public func examine() throws -> [Finding] {
        let store: Store
        do {
            store = try root.openStore(create: false)
        } catch let e as TreesError {
            if e.code == .notFound { return try leftovers(store: nil) } // a fresh root: no database, no tree
            return [databaseFinding(e)]
        }
        // Under the write lock no activate is between its steps; a held
        // install or gc lock means `installing`, `condemned` and `deleting`
        // rows may be live work, not leftovers.
        return try store.serialized {
            try root.tryingLock(.install) { installIdle in
                try root.tryingLock(.gc) { gcIdle in try examine(store, installIdle: installIdle, gcIdle: gcIdle) }
            }
        }
    }

    private func databaseFinding(_ e: TreesError) -> Finding {
        let path = root.databasePath
        if e.message.contains("is missing") { return Finding(.databaseMissing, path, e.message) }
        if e.message.contains("is empty") { return Finding(.databaseEmpty, path, e.message) }
        if e.message.contains("is not a trees state database") { return Finding(.databaseForeign, path, e.message) }
        return Finding(.databaseDamaged, path, e.message + " (not repaired: restore it from a backup)")
    }

    private func examine(_ store: Store, installIdle: Bool, gcIdle: Bool) throws -> [Finding] {
        var findings: [Finding] = []
        let disk = try DiskInventory.scan(root)
        let onDisk = Set(disk.trees)
        let rows = try store.trees()
        var rowFor: [TreeRef: TreeRecord] = [:]
        for row in rows { rowFor[row.ref] = row }
        let pending = try Activation(root: root, store: store).pending()
        let pendingNames = Set(pending.map(\.tree.name))

        for row in rows {
            let ref = row.ref.description
            switch row.state {
            case .installing where installIdle:
                findings.append(Finding(.stuckInstalling, ref, "\(ref) is stuck installing (a killed install); \(onDisk.contains(row.ref) ? "its directory is in place" : "its directory never arrived")"))
            case .condemned where gcIdle, .deleting where gcIdle:
                findings.append(Finding(.stuckCollecting, ref, "\(ref) is stuck \(row.state.rawValue) (a killed gc or remove)"))
            case .ready where !onDisk.contains(row.ref):
                findings.append(Finding(.rowWithoutDirectory, ref, "\(ref) is recorded ready but \(root.treePath(row.ref)) is missing"))
            case .ready where try !store.hasManifest(treeID: row.id):
                findings.append(Finding(.missingManifest, ref, "\(ref) has no manifest, so it cannot be verified"))
            default:
                break
            }
        }
        for ref in disk.trees where rowFor[ref] == nil {
            findings.append(Finding(.directoryWithoutRow, ref.description, "\(root.treePath(ref)) is a tree the database does not know"))
        }
        for intent in pending {
            findings.append(Finding(.pendingActivation, intent.tree.description, "activating \(intent.tree) was interrupted (intent recorded, outcome not)"))
        }
        for entry in disk.names {
            let name = entry.name.value
            if let problem = entry.currentProblem {
                findings.append(Finding(.currentNotReady, "\(name)/current", problem))
            } else if let rev = entry.current {
                let ref = TreeRef(name: entry.name, rev: rev)
                if !onDisk.contains(ref) || rowFor[ref]?.state != .ready {
                    findings.append(Finding(.currentNotReady, "\(name)/current",
                                            "\(root.path)/\(name)/current points at \(ref), which is \(onDisk.contains(ref) ? (rowFor[ref]?.state.rawValue ?? "unknown to the database") : "missing")"))
                }
            }
            for leftover in entry.leftovers {
                findings.append(Finding(.linkLeftover, "\(root.path)/\(name)/\(leftover)", "a killed activate left \(leftover)"))
            }
            for (rev, way) in entry.transits where way == .arriving ? installIdle : gcIdle {
                let ref = TreeRef(name: entry.name, rev: rev)
                findings.append(Finding(.treeInTransit, "\(root.path)/\(name)/\(way.name(rev))", way == .arriving
                    ? "a killed install left \(ref) complete beside \(root.treePath(ref)), not yet in place"
                    : "a killed gc left \(ref) beside \(root.treePath(ref)), on its way to the trash"))
            }
            guard !pendingNames.contains(entry.name) else { continue }
            for row in rows where row.ref.name == entry.name && [.ready, .condemned].contains(row.state) {
                let recordedCurrent = row.activatedAt != nil && row.deactivatedAt == nil
                if recordedCurrent != (row.ref.rev == entry.current) {
                    findings.append(Finding(.activationRecord, row.ref.description, recordedCurrent
                        ? "\(row.ref) is recorded as current, but current is \(entry.current?.value ?? "absent")"
                        : "\(row.ref) is current, but the database does not record it so"))
                }
            }
        }
        findings += try sharedFindings(store, rows: rows)
        return findings + (try leftovers(store: gcIdle ? store : nil, installIdle: installIdle, rows: rows))
    }

    /// Declared shared paths that nest, are not as declared on disk, or that
    /// a ready tree links to while they are missing.
    private func sharedFindings(_ store: Store, rows: [TreeRecord]) throws -> [Finding] {
        var findings: [Finding] = []
        let declarations = try store.sharedDeclarations()
        for d in declarations {
            let area = SharedArea(root: root, name: d.name)
            let location = "\(area.path)/\(d.path)"
            for other in declarations where other.name == d.name && other.path != d.path && d.path.isWithin(other.path) {
                findings.append(Finding(.sharedNested, location, "\(d.path) is declared inside the shared path \(other.path)"))
            }
            let problems = try area.problems(d)
            guard !problems.isEmpty else { continue }
            findings.append(Finding(.sharedPath, location, problems.joined(separator: "; ")))
            guard problems == ["missing"] else { continue }
            for row in rows where row.ref.name == d.name && row.state == .ready {
                guard let nameDir = try root.treeParent(row.ref),
                      try SharedOccupant.find(d.path, in: nameDir.openDirectory(row.ref.rev.value)) == .link else { continue }
                findings.append(Finding(.sharedLinkDangling, "\(row.ref) \(d.path)", "\(root.treePath(row.ref))/\(d.path) links to \(location), which is missing"))
            }
        }
        return findings
    }

    /// Staging containers whose installer is gone, and (with a store and no
    /// gc running) trash entries no row is being deleted through.
    private func leftovers(store: Store?, installIdle: Bool = true, rows: [TreeRecord] = []) throws -> [Finding] {
        var findings: [Finding] = []
        if let staging = try? root.staging() {
            for entry in try staging.entries() {
                guard let dir = try? staging.openDirectory(entry.name) else {
                    findings.append(Finding(.stagingLeftover, staging.child(entry.name), "not a staging container"))
                    continue
                }
                if try lockFile(dir.fd, waitingUpTo: nil, path: dir.path) {
                    findings.append(Finding(.stagingLeftover, dir.path, "a killed install left this staging container"))
                }
            }
        }
        if store != nil, let trash = try? root.trash() {
            let working = Set(rows.filter { $0.state == .condemned || $0.state == .deleting }.map { "\($0.ref).\($0.id)" })
            for entry in try trash.entries() where !working.contains(entry.name.display) {
                findings.append(Finding(.trashLeftover, trash.child(entry.name), "left in the trash by a killed gc"))
            }
            for row in rows where (row.state == .condemned || row.state == .deleting)
                && (try? trash.exists("\(row.ref).\(row.id)")) == true {
                findings.append(Finding(.trashLeftover, trash.child(Array("\(row.ref).\(row.id)".utf8)), "\(row.ref) is half deleted"))
            }
        }
        return findings
    }

    // MARK: repairing

    private func repair(_ findings: [Finding]) throws {
        let kinds = Set(findings.map(\.kind))
        if kinds.contains(.databaseDamaged) { return }
        let store: Store
        if !kinds.isDisjoint(with: [.databaseMissing, .databaseEmpty, .databaseForeign]) {
            store = try rebuildDatabase()
        } else {
            store = try root.openStore(create: false)
        }
        // Half-steps first, by the code the commands themselves recover with.
        try Installer(root: root, store: store).recover()
        try root.withLock(.gc, wait: false) { try Collector(root: root, store: store).recover() }
        try Activation(root: root, store: store).recover()
        try settleStrayTransits()
        if !kinds.isDisjoint(with: [.sharedPath, .sharedLinkDangling]) {
            for d in try store.sharedDeclarations() { try? SharedArea(root: root, name: d.name).ensure(d) }
        }

        try store.serialized {
            let disk = try DiskInventory.scan(root)
            let onDisk = Set(disk.trees)
            let current = Dictionary(disk.names.compactMap { e in e.current.map { (e.name, $0) } }, uniquingKeysWith: { a, _ in a })
            for row in try store.trees() where row.state == .ready && !onDisk.contains(row.ref) {
                try store.write {
                    guard try store.tree(row.ref)?.state == .ready else { return }
                    try store.markMissing(row.ref, at: unixNow(), reason: "missing on disk (trees doctor)")
                    try store.record(row.ref.name.value, row.ref.rev.value, event: .deleted, detail: "missing on disk (trees doctor)")
                }
            }
            for ref in disk.trees {
                let row = try store.tree(ref)
                if row == nil || row?.state == .deleted {
                    try adopt(ref, store: store, isCurrent: current[ref.name] == ref.rev)
                } else if let row, row.state == .ready, try !store.hasManifest(treeID: row.id) {
                    let manifest = try build(ref)
                    if manifest.digest == row.digest {
                        try store.write { try store.saveManifest(manifest, treeID: row.id) }
                    }
                }
            }
            // The link is the truth about what is current; the record follows it.
            for entry in disk.names where try Activation(root: root, store: store).pending(entry.name).isEmpty {
                try store.write { try store.followCurrent(entry.name, entry.current, at: unixNow()) }
                if let nameDir = try root.nameDirectory(entry.name) { _ = unlinkat(nameDir.fd, ".current.new", 0) }
            }
        }
        try root.withLock(.install, wait: false) { try Installer(root: root, store: store).removeStaleStaging(try root.staging()) }
    }

    /// Trees in transit that recovery left (their row is gone, as after a
    /// rebuilt database): sealed and put at REV, where they are adopted
    /// like any tree the database does not know. Only while no install or
    /// gc is between its renames.
    private func settleStrayTransits() throws {
        try root.tryingLock(.install) { installIdle in
            try root.tryingLock(.gc) { gcIdle in
                for entry in try DiskInventory.scan(root).names {
                    for (rev, way) in entry.transits where way == .arriving ? installIdle : gcIdle {
                        try root.settleTransit(TreeRef(name: entry.name, rev: rev), way)
                    }
                }
            }
        }
    }

    private func build(_ ref: TreeRef) throws -> BuiltManifest {
        guard let nameDir = try root.nameDirectory(ref.name) else {
            throw TreesError(.failure, "\(root.path)/\(ref.name) vanished")
        }
        return try Manifest.write(of: try nameDir.openDirectory(ref.rev.value), pass: .record, scratch: try root.staging(),
                                  progress: nil)
    }

    /// Records a tree found on disk as ready, with the manifest and digest of
    /// what it holds now (the best evidence left of what was installed).
    private func adopt(_ ref: TreeRef, store: Store, isCurrent: Bool) throws {
        let manifest = try build(ref)
        let now = unixNow()
        try store.write {
            try store.adopt(ref, path: root.treePath(ref), manifest: manifest, at: now, activatedAt: isCurrent ? now : nil)
            try store.record(ref.name.value, ref.rev.value, event: .installed, detail: "adopted from disk by trees doctor: \(manifest.digest)")
        }
    }

    /// Moves a missing, empty or foreign database (and its -wal and -shm,
    /// which SQLite would otherwise replay into the new file) aside, never
    /// deleting it, and creates trees' database in its place.
    private func rebuildDatabase() throws -> Store {
        let stamp = "\(unixNow())"
        var aside: [String] = []
        for suffix in ["", "-wal", "-shm"] {
            let name = "state.db" + suffix
            guard (try? root.meta.exists(name)) == true else { continue }
            try syscall("cannot move aside", "\(root.meta.path)/\(name)") {
                renameat(root.meta.fd, name, root.meta.fd, "state.db.aside-\(stamp)\(suffix)")
            }
            aside.append("state.db.aside-\(stamp)\(suffix)")
        }
        // Kept for the operator to look at, and as private as the database was meant to be.
        Store.makePrivate(aside, in: root.meta)
        try root.meta.sync()
        return try Store(path: root.databasePath, metaDirectory: root.meta, create: true,
                         lockTimeout: root.settings.lockTimeout, rebuild: true)
    }
}
