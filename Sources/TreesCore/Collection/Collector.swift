#if canImport(Glibc)
import Glibc
#endif
import CTreesShim

/// Deletes old trees only once nothing runs from them, following "the race
/// that matters": a candidate is condemned in a write transaction that finds
/// no live lease row and takes the tree's lease lock exclusive without
/// waiting (any job holding it shared keeps the tree); from then on new
/// leases on it are refused and gc holds that lock until it is done. /proc is
/// scanned once for all condemned trees; any evidence, or any process that
/// could not be inspected, puts a tree back to `ready`; the rest are renamed
/// into the trash, marked `deleting`, deleted fd-relatively and marked
/// `deleted`.
public struct Collector {
    public let root: Root
    public let store: Store
    public var scanner: UsageScanner
    public var now: () -> Int64 = unixNow
    /// Test seam: runs inside `remove` after its checks and before the
    /// condemn transaction, where another command may change the tree.
    var beforeCondemn: ((TreeRef) throws -> Void)?
    /// Told of each file deleted, with the tree's name in the phase (`deleting NAME@REV`).
    public var progress: ProgressHandler?

    public init(root: Root, store: Store, scanner: UsageScanner? = nil) {
        self.root = root
        self.store = store
        self.scanner = scanner ?? UsageScanner(root: root, store: store)
    }

    /// Runs `body` holding the GC lock (`.trees/gc.lock`); nil, without
    /// running it, when another GC holds it and `wait` is false. With `wait`,
    /// waits at most the lock timeout (75).
    public func withLock<T>(wait: Bool, _ body: () throws -> T) throws -> T? {
        try root.withLock(.gc, wait: wait, body)
    }

    /// One full collection. Call with the GC lock held. A dry run opens no
    /// write transaction and creates nothing.
    public func collect(policy: GCPolicy, dryRun: Bool) throws -> [GCOutcome] {
        var collector = self
        collector.scanner.probe = try scanner.probe.resolvingBootID()
        var book = try LeaseBook(Leases(root: root, store: store, probe: collector.scanner.probe))
        if !dryRun {
            try collector.recover()
            _ = try book.leases.pruneDead(try book.dead())
        }
        var outcomes: [GCOutcome] = []
        var candidates: [TreeRecord] = []
        var all = try store.trees().filter { $0.state == .ready }
        all = try collector.stampDeactivations(all, dryRun: dryRun)
        for name in Set(all.map(\.ref.name)).sorted() {
            let current = try root.currentRev(of: name)
            // Most recently installed first; the current tree does not count against --keep.
            let trees = all.filter { $0.ref.name == name }
                .sorted { ($0.installedAt ?? 0, $0.id) > ($1.installedAt ?? 0, $1.id) }
            // Bad releases take no --keep place: rollback never goes to one.
            var kept = 0, keptGood = 0
            for tree in trees {
                if tree.ref.rev == current {
                    outcomes.append(GCOutcome(tree: tree.ref, action: .kept, reason: "current"))
                } else if tree.pinned {
                    outcomes.append(GCOutcome(tree: tree.ref, action: .kept, reason: "pinned"))
                } else if tree.verdict.verdict == .good && keptGood < policy.keepGood {
                    keptGood += 1
                    outcomes.append(GCOutcome(tree: tree.ref, action: .kept, reason: "last good"))
                } else if tree.verdict.verdict != .bad && kept < policy.keep {
                    kept += 1
                    outcomes.append(GCOutcome(tree: tree.ref, action: .kept, reason: "kept for rollback"))
                } else if now() - (tree.deactivatedAt ?? tree.installedAt ?? 0) < policy.minAge {
                    outcomes.append(GCOutcome(tree: tree.ref, action: .kept, reason: "too young"))
                } else {
                    candidates.append(tree)
                }
            }
        }
        outcomes += try collector.collect(candidates, dryRun: dryRun, book: &book)
        if !dryRun { try store.recordGCRun(GCRunRecord(outcomes), at: now(), historyRetention: policy.historyRetention) }
        return outcomes.sorted { ($0.tree.name.value, $0.tree.rev.value) < ($1.tree.name.value, $1.tree.rev.value) }
    }

    /// Trees recorded as current (activated, never deactivated) that
    /// `current` on disk no longer names: the link moved without `trees
    /// activate` (an `ln -sfn`, a restored backup). Their grace period starts
    /// now, when trees first sees it, never at their install: jobs that
    /// resolved `current` a moment ago may be starting from them. Recorded
    /// (unless a dry run) so the grace also ends.
    private func stampDeactivations(_ trees: [TreeRecord], dryRun: Bool) throws -> [TreeRecord] {
        var current: [TreeName: Rev?] = [:]
        var result: [TreeRecord] = []
        for var tree in trees {
            if tree.activatedAt != nil && tree.deactivatedAt == nil {
                if current[tree.ref.name] == nil { current[tree.ref.name] = try root.currentRev(of: tree.ref.name) }
                if current[tree.ref.name] != .some(tree.ref.rev) {
                    let seen = now()
                    tree.deactivatedAt = seen
                    if !dryRun {
                        try store.write {
                            try store.markDeactivated(tree.id, at: seen)
                            try store.record(tree.ref.name.value, tree.ref.rev.value, event: .deactivated,
                                             detail: "current no longer names it (moved without trees activate)")
                        }
                    }
                }
            }
            result.append(tree)
        }
        return result
    }

    /// Deletes one tree now by the same protocol (`trees remove`), whatever its age.
    /// - Throws: `.temporary` (75) listing the users when it is current, pinned
    ///   or in use, also when it became so after the checks here.
    public func remove(_ ref: TreeRef) throws -> GCOutcome {
        var collector = self
        collector.scanner.probe = try scanner.probe.resolvingBootID()
        try collector.recover()
        guard let tree = try store.tree(ref), tree.state != .deleted else {
            throw TreesError(.notFound, "no tree \(ref)")
        }
        guard tree.state == .ready else {
            throw TreesError(.temporary, "\(ref) is \(tree.state.rawValue)", hint: "Another trees process is working on it; try again.")
        }
        if try root.currentRev(of: ref.name) == ref.rev {
            throw TreesError(.temporary, "\(ref) is current", hint: "Activate another revision first.")
        }
        if tree.pinned {
            throw TreesError(.temporary, "\(ref) is pinned", hint: "Unpin it first: trees unpin \(ref).")
        }
        try beforeCondemn?(ref)
        var book = try LeaseBook(Leases(root: root, store: store, probe: collector.scanner.probe))
        let outcomes = try collector.collect([tree], dryRun: false, book: &book)
        guard let outcome = outcomes.first(where: { $0.tree == ref }) else {
            throw TreesError(.temporary, "\(ref) changed during remove, not removed", hint: "Check it with trees list, then try again.")
        }
        if outcome.action != .deleted {
            if outcome.changed { throw TreesError(.temporary, "\(ref) \(outcome.reason), not removed") }
            throw TreesError(.temporary, "\(ref) was not removed: \(outcome.reason)")
        }
        return outcome
    }

    /// Condemns, scans and deletes `candidates`.
    private func collect(_ candidates: [TreeRecord], dryRun: Bool, book: inout LeaseBook) throws -> [GCOutcome] {
        // Whoever may change `.trees` may move a lease lock (or its
        // directory) aside: the job keeps its lock on the moved file and a
        // fresh one proves nothing. Nothing is deleted until only the
        // operator may change the record and the locks.
        if let problem = root.permissionProblems().first {
            return candidates.map {
                GCOutcome(tree: $0.ref, action: .kept, reason: "not deleted while the lease locks are not the operator's alone: \(problem)")
            }
        }
        var outcomes: [GCOutcome] = []
        // Each condemned tree with its lease lock held exclusive until it is
        // reprieved or deleted (nil: a dry run, whose lock is not kept).
        var condemned: [(tree: TreeRecord, lock: CondemnedLock)] = []
        for tree in candidates {
            switch try condemn(tree, dryRun: dryRun, book: &book) {
            case .changed(let why):
                outcomes.append(GCOutcome(tree: tree.ref, action: .kept, reason: why, changed: true))
            case .leased(let pids):
                outcomes.append(GCOutcome(tree: tree.ref, action: .kept, reason: "in use by pids \(pidList(pids)) (lease)", pids: pids))
            case .locked:
                outcomes.append(GCOutcome(tree: tree.ref, action: .kept, reason: "in use (lease lock held)"))
            case .lockUnknown(let why):
                outcomes.append(GCOutcome(tree: tree.ref, action: .kept,
                                          reason: "lease lock cannot be tried (\(why)); chown it to the operator"))
            case .condemned(let lock):
                condemned.append((tree, lock))
            }
        }
        guard !condemned.isEmpty else { return outcomes }

        // One /proc pass for every condemned tree.
        let report: UsageReport
        do {
            report = try scanner.scan()
        } catch {
            if !dryRun { for entry in condemned { try reprieve(entry.tree) } }
            throw error
        }
        for (tree, lock) in condemned {
            let holders = report.holders(of: tree.ref)
            if !holders.isEmpty {
                if !dryRun { try reprieve(tree) }
                let pids = Array(Set(holders.filter { !$0.isKernelHold }.map(\.pid))).sorted()
                let kinds = Set(holders.flatMap(\.evidence)).sorted().map(\.rawValue).joined(separator: ",")
                var who = pids.isEmpty ? [] : ["pids \(pidList(pids))"]
                if let kernel = holders.first(where: \.isKernelHold) {
                    who.append("the kernel (\(kernel.command)\(holders.filter(\.isKernelHold).count > 1 ? ", …" : ""))")
                }
                outcomes.append(GCOutcome(tree: tree.ref, action: .kept, reason: "in use by \(who.joined(separator: " and ")) (\(kinds))", pids: pids))
            } else if !report.unknown.isEmpty {
                if !dryRun { try reprieve(tree) }
                let listed = report.unknownListed
                var why: [String] = []
                if let first = listed.first {
                    why.append("unknown process: pids \(pidList(listed.map(\.pid))) could not be inspected (\(first.reason))")
                }
                let others = report.othersUninspectable.count
                if others > 0 { why.append("\(others) processes of other users could not be inspected, for want of privilege") }
                outcomes.append(GCOutcome(tree: tree.ref, action: .kept, reason: why.joined(separator: "; "), pids: listed.map(\.pid)))
            } else if dryRun {
                outcomes.append(GCOutcome(tree: tree.ref, action: .wouldDelete, reason: "unused"))
            } else {
                let outcome = try delete(tree, reason: "unused")
                if outcome.action == .deleted { lock.unlinkFile(in: root) }
                outcomes.append(outcome)
            }
            lock.release()
        }
        return outcomes
    }

    private enum Verdict {
        /// Current, pinned or no longer ready since the policy looked.
        case changed(String)
        /// Live lease rows (a supervisor's `lease acquire --pid`).
        case leased([Int32])
        /// A job holds the lease lock.
        case locked
        /// The lease lock exists but cannot be opened: it may be held.
        case lockUnknown(String)
        case condemned(CondemnedLock)
    }

    /// The condemn step for one tree: in one `BEGIN IMMEDIATE` transaction,
    /// checks the tree is still a ready, unpinned, non-current tree with no
    /// live lease row, takes its lease lock exclusive without waiting and
    /// marks it condemned. A dry run decides the same from reads alone and
    /// lets go of the lock at once.
    private func condemn(_ tree: TreeRecord, dryRun: Bool, book: inout LeaseBook) throws -> Verdict {
        func decide() throws -> Verdict {
            guard let row = try store.tree(tree.ref) else { return .changed("vanished") }
            if try root.currentRev(of: tree.ref.name) == tree.ref.rev { return .changed("became current") }
            if row.pinned { return .changed("became pinned") }
            guard row.state == .ready else { return .changed("became \(row.state.rawValue)") }
            let live = try book.live(on: tree.ref).map(\.pid)
            if !live.isEmpty { return .leased(live) }
            switch try TreeLock.exclusive(tree.ref, in: root, create: !dryRun) {
            case .held:
                return .locked
            case .unknown(let why):
                return .lockUnknown(why)
            case .taken(let lock):
                if dryRun { return .condemned(CondemnedLock(nil)) }
                try store.condemn(row.ref)
                return .condemned(CondemnedLock(lock))
            }
        }
        return dryRun ? try decide() : try store.write { try decide() }
    }

    func reprieve(_ tree: TreeRecord) throws {
        try store.write {
            if try store.tree(tree.ref)?.state == .condemned { try store.reprieve(tree.ref) }
        }
    }

    /// Marks a condemned tree `deleting`, renames it into the trash, then
    /// deletes it there.
    ///
    /// The state is committed before the rename, never with it: a commit
    /// lost to a kill must not leave a row that says `condemned` while the
    /// tree is already in the trash (the database claiming a tree the disk
    /// no longer has there). A kill between the commit and the rename leaves
    /// `deleting` with the tree still in place, which recovery puts back to
    /// `ready`: only gc's own decision, in this run, ever deletes a tree.
    ///
    /// The tree leaves in two renames (see `Transit`): beside, to
    /// `ROOT/NAME/.REV.leaving`, which needs no permission on it, then, its
    /// top made writable by its owner there, into the trash. Its top is
    /// never writable at REV; a kill in between leaves it in transit, and
    /// recovery seals it and puts it back. A tree this user may not move
    /// (an operator who is not root, a tree root installed) is put back
    /// and kept, with the reason.
    private func delete(_ tree: TreeRecord, reason: String) throws -> GCOutcome {
        let trashName = "\(tree.ref).\(tree.id)"
        try store.write {
            guard let row = try store.tree(tree.ref), row.state == .condemned else {
                throw TreesError(.temporary, "\(tree.ref) changed state during gc")
            }
            guard try root.hasTree(tree.ref) else {
                throw TreesError(.failure, "\(root.treePath(tree.ref)) is not a real directory under the root; not touching it")
            }
            try store.markDeleting(row.ref, reason: reason)
        }
        guard let nameDir = try root.treeParent(tree.ref) else {
            throw TreesError(.failure, "\(root.treePath(tree.ref)) is not a real directory under the root; not touching it")
        }
        let trash = try root.trash()
        let hidden = Transit.leaving.name(tree.ref.rev)
        try syscall("cannot move aside for deletion", root.treePath(tree.ref)) {
            CT_renameat_noreplace(nameDir.fd, tree.ref.rev.value, nameDir.fd, hidden)
        }
        do {
            try Transit.unseal(try nameDir.openDirectory(hidden))
            try syscall("cannot move into the trash", "\(root.path)/\(tree.ref.name)/\(hidden)") {
                renameat(nameDir.fd, hidden, trash.fd, trashName)
            }
        } catch let e as TreesError {
            try root.settleTransit(tree.ref, .leaving)
            try store.write {
                if try store.tree(tree.ref)?.state == .deleting { try store.reprieve(tree.ref) }
            }
            let why = e.message + (e.errno.map { ": \($0)" } ?? "")
            return GCOutcome(tree: tree.ref, action: .kept, reason: "cannot be deleted by uid \(geteuid()): \(why)")
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
            try store.markDeleted(ref, at: now(), bytesFreed: remover.bytesFreed)
            try store.deleteLeases(treeID: id)
            try store.record(ref.name.value, ref.rev.value, event: .deleted, detail: reason)
        }
        return GCOutcome(tree: ref, action: .deleted, reason: reason, bytesFreed: remover.bytesFreed)
    }

    public func setPinned(_ ref: TreeRef, _ pinned: Bool) throws {
        try store.write {
            guard let row = try store.tree(ref), row.state != .deleted else { throw TreesError(.notFound, "no tree \(ref)") }
            try store.setPinned(row.id, pinned)
            try store.record(ref.name.value, ref.rev.value, event: pinned ? .pinned : .unpinned)
        }
    }
}

func pidList(_ pids: [Int32]) -> String {
    let shown = pids.prefix(10).map(String.init).joined(separator: ", ")
    return pids.count > 10 ? shown + ", … (\(pids.count) in all)" : shown
}

/// A condemned tree's lease lock, held exclusive until gc has reprieved or
/// deleted the tree. A class only because the condemned trees are listed in
/// an Array, which holds copyable values alone; `release()` ends the lock at
/// a stated point rather than wherever the list last happens to be used.
private final class CondemnedLock {
    private var lock: TreeLock?

    init(_ lock: consuming TreeLock?) { self.lock = lock }

    func unlinkFile(in root: Root) { lock?.unlinkFile(in: root) }

    func release() { lock = nil }
}
