#if canImport(Glibc)
import Glibc
#endif

/// Deletes old trees only once nothing runs from them, following "the race
/// that matters": a tree is condemned in a write transaction that finds no
/// live lease (from then on, leases on it are refused); /proc is scanned once
/// for all condemned trees; any evidence, or any process that could not be
/// inspected, puts a tree back to `ready`; the rest are renamed into the
/// trash, marked `deleting`, deleted fd-relatively and marked `deleted`.
public struct Collector {
    public let root: Root
    public let store: Store
    public var scanner: UsageScanner
    public var now: () -> Int64 = unixNow
    /// Told of each file deleted, with the tree's name in the phase (`deleting NAME@REV`).
    public var progress: ProgressHandler?

    public init(root: Root, store: Store, scanner: UsageScanner? = nil) {
        self.root = root
        self.store = store
        self.scanner = scanner ?? UsageScanner(root: root, store: store)
    }

    /// Takes the GC lock (`.trees/gc.lock`); nil when another GC holds it and `wait` is false.
    public func lock(wait: Bool) throws -> FileDescriptor? {
        try root.lock("gc.lock", wait: wait)
    }

    /// One full collection. Call with the GC lock held.
    public func collect(policy: GCPolicy, dryRun: Bool) throws -> [GCOutcome] {
        if !dryRun {
            try recover()
            try Leases(root: root, store: store, probe: scanner.probe).pruneDead()
        }
        var outcomes: [GCOutcome] = []
        var candidates: [TreeRecord] = []
        let all = try store.trees().filter { $0.state == .ready }
        for name in Set(all.map(\.ref.name)).sorted() {
            let current = try Activation.currentRev(of: name, in: root)
            // Most recently installed first; the current tree does not count against --keep.
            let trees = all.filter { $0.ref.name == name }
                .sorted { ($0.installedAt ?? 0, $0.id) > ($1.installedAt ?? 0, $1.id) }
            var kept = 0
            for tree in trees {
                if tree.ref.rev == current {
                    outcomes.append(GCOutcome(tree: tree.ref, action: .kept, reason: "current"))
                } else if tree.pinned {
                    outcomes.append(GCOutcome(tree: tree.ref, action: .kept, reason: "pinned"))
                } else if kept < policy.keep {
                    kept += 1
                    outcomes.append(GCOutcome(tree: tree.ref, action: .kept, reason: "kept for rollback"))
                } else if now() - (tree.deactivatedAt ?? tree.installedAt ?? 0) < policy.minAge {
                    outcomes.append(GCOutcome(tree: tree.ref, action: .kept, reason: "too young"))
                } else {
                    candidates.append(tree)
                }
            }
        }
        outcomes += try collect(candidates, dryRun: dryRun)
        if !dryRun { try store.recordGCRun(outcomes, at: now(), historyRetention: policy.historyRetention) }
        return outcomes.sorted { ($0.tree.name.value, $0.tree.rev.value) < ($1.tree.name.value, $1.tree.rev.value) }
    }

    /// Deletes one tree now by the same protocol (`trees remove`), whatever its age.
    /// - Throws: `.temporary` (75) listing the users when it is current, pinned or in use.
    public func remove(_ ref: TreeRef) throws -> GCOutcome {
        try recover()
        guard let tree = try store.tree(ref), tree.state != .deleted else {
            throw TreesError(.notFound, "no tree \(ref)")
        }
        guard tree.state == .ready else {
            throw TreesError(.temporary, "\(ref) is \(tree.state.rawValue)", hint: "Another trees process is working on it; try again.")
        }
        if try Activation.currentRev(of: ref.name, in: root) == ref.rev {
            throw TreesError(.temporary, "\(ref) is current", hint: "Activate another revision first.")
        }
        if tree.pinned {
            throw TreesError(.temporary, "\(ref) is pinned", hint: "Unpin it first: trees unpin \(ref).")
        }
        let outcome = try collect([tree], dryRun: false)[0]
        if outcome.action != .deleted {
            throw TreesError(.temporary, "\(ref) was not removed: \(outcome.reason)")
        }
        return outcome
    }

    private func collect(_ candidates: [TreeRecord], dryRun: Bool) throws -> [GCOutcome] {
        var outcomes: [GCOutcome] = []
        var condemned: [TreeRecord] = []
        let leases = Leases(root: root, store: store, probe: scanner.probe)
        for tree in candidates {
            let held: [Int32] = try store.write {
                guard let row = try store.tree(tree.ref), row.state == .ready, !row.pinned,
                      try Activation.currentRev(of: tree.ref.name, in: root) != tree.ref.rev else { return [-1] }
                let live = try leases.list(tree.ref).filter { $0.liveness == .live }.map(\.lease.pid)
                if live.isEmpty && !dryRun { try store.setState(row.id, .condemned) }
                return live
            }
            if held == [-1] { continue } // changed under us: leave it for the next run
            if !held.isEmpty {
                outcomes.append(GCOutcome(tree: tree.ref, action: .kept, reason: "in use by pids \(pidList(held)) (lease)", pids: held))
            } else {
                condemned.append(tree)
            }
        }
        guard !condemned.isEmpty else { return outcomes }

        // One /proc pass for every condemned tree.
        let report: UsageReport
        do {
            report = try scanner.scan()
        } catch {
            if !dryRun { for tree in condemned { try reprieve(tree) } }
            throw error
        }
        for tree in condemned {
            let holders = report.holders(of: tree.ref)
            if !holders.isEmpty {
                if !dryRun { try reprieve(tree) }
                let pids = Array(Set(holders.map(\.pid))).sorted()
                let kinds = Set(holders.flatMap(\.evidence)).sorted().map(\.rawValue).joined(separator: ",")
                outcomes.append(GCOutcome(tree: tree.ref, action: .kept, reason: "in use by pids \(pidList(pids)) (\(kinds))", pids: pids))
            } else if !report.unknown.isEmpty {
                if !dryRun { try reprieve(tree) }
                let pids = report.unknown.map(\.pid)
                outcomes.append(GCOutcome(tree: tree.ref, action: .kept,
                                          reason: "unknown process: pids \(pidList(pids)) could not be inspected (\(report.unknown[0].reason))", pids: pids))
            } else if dryRun {
                outcomes.append(GCOutcome(tree: tree.ref, action: .wouldDelete, reason: "unused"))
            } else {
                outcomes.append(try delete(tree, reason: "unused"))
            }
        }
        return outcomes
    }

    func reprieve(_ tree: TreeRecord) throws {
        try store.write {
            if let row = try store.tree(tree.ref), row.state == .condemned { try store.setState(row.id, .ready) }
        }
    }

    /// Renames a condemned tree into the trash, then deletes it there.
    private func delete(_ tree: TreeRecord, reason: String) throws -> GCOutcome {
        let trashName = "\(tree.ref).\(tree.id)"
        try store.write {
            guard let row = try store.tree(tree.ref), row.state == .condemned else {
                throw TreesError(.temporary, "\(tree.ref) changed state during gc")
            }
            guard let nameDir = try root.nameDirectory(tree.ref.name), try isRealDirectory(nameDir, tree.ref.rev.value) else {
                throw TreesError(.failure, "\(root.treePath(tree.ref)) is not a real directory under the root; not touching it")
            }
            let trash = try root.trash()
            try syscall("cannot move into the trash", root.treePath(tree.ref)) {
                renameat(nameDir.fd, tree.ref.rev.value, trash.fd, trashName)
            }
            try store.setState(row.id, .deleting)
            try store.query("UPDATE trees SET delete_reason = ? WHERE id = ?", [.text(reason), .int(row.id)])
        }
        return try finishDeleting(tree.ref, id: tree.id, trashName: trashName, reason: reason)
    }

    /// Deletes a trash entry and marks its row deleted; a mount inside keeps it `deleting`.
    func finishDeleting(_ ref: TreeRef, id: Int64, trashName: String, reason: String) throws -> GCOutcome {
        let trash = try root.trash()
        var remover = Remover(device: try trash.status().st_dev)
        remover.progress = progress.map { handler in { handler(Progress(phase: "deleting \(ref)", files: $0.files, bytes: $0.bytes)) } }
        let gone = try remover.remove(Array(trashName.utf8), in: trash)
        guard gone else {
            return GCOutcome(tree: ref, action: .kept, reason: "mount inside, left in place: \(remover.mountsSkipped.joined(separator: ", "))",
                             bytesFreed: remover.bytesFreed)
        }
        try store.write {
            try store.query("""
                UPDATE trees SET state = 'deleted', state_changed_at = ?, deleted_at = ?,
                    bytes_freed = COALESCE(bytes_freed, 0) + ?, activated_at = activated_at WHERE id = ?
                """, [.int(now()), .int(now()), .int(remover.bytesFreed), .int(id)])
            try store.query("DELETE FROM leases WHERE tree_id = ?", [.int(id)])
            try store.record(ref.name.value, ref.rev.value, event: "deleted", detail: reason)
        }
        return GCOutcome(tree: ref, action: .deleted, reason: reason, bytesFreed: remover.bytesFreed)
    }

    public func setPinned(_ ref: TreeRef, _ pinned: Bool) throws {
        try store.write {
            guard let row = try store.tree(ref), row.state != .deleted else { throw TreesError(.notFound, "no tree \(ref)") }
            try store.query("UPDATE trees SET pinned = ? WHERE id = ?", [.int(pinned ? 1 : 0), .int(row.id)])
            try store.record(ref.name.value, ref.rev.value, event: pinned ? "pinned" : "unpinned")
        }
    }
}

func pidList(_ pids: [Int32]) -> String {
    let shown = pids.prefix(10).map(String.init).joined(separator: ", ")
    return pids.count > 10 ? shown + ", … (\(pids.count) in all)" : shown
}
