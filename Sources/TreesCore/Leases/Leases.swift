#if canImport(Glibc)
import Glibc
#endif
import CTreesShim

/// Taking, releasing and listing leases.
public struct Leases {
    public let root: Root
    public let store: Store
    public var probe: ProcessProbe

    public init(root: Root, store: Store, probe: ProcessProbe = ProcessProbe()) {
        self.root = root
        self.store = store
        self.probe = probe
    }

    /// Takes a lease for `pid` on NAME@REV, or on the current rev of NAME.
    /// One `BEGIN IMMEDIATE` transaction resolves `current`, checks that the
    /// tree is `ready` and records the lease, so a GC that condemned the
    /// tree a moment earlier makes this fail (75) instead of racing it.
    /// - Throws: `.notFound` (66) for no such tree, `.temporary` (75) when
    ///   the tree is not ready, `.notFound` when the process does not exist.
    public func acquire(_ selector: TreeSelector, pid: Int32, command: String? = nil) throws -> Lease {
        guard let identity = probe.stat(of: pid) else {
            throw TreesError(.notFound, "no process \(pid)")
        }
        // A thread id names a task that `readdir(/proc)` does not list, and
        // the lease would be judged by one thread's life: lease the process.
        if pid != getpid(), let group = probe.threadGroup(of: pid), group != pid {
            throw TreesError(.usage, "\(pid) is a thread of process \(group), not a process",
                             hint: "Lease the process: --pid \(group).")
        }
        let bootID = try probe.bootID()
        let inode = probe.pidfdInode(of: pid)
        var refused: TreeRef?
        defer { if let refused { try? store.recordRefusedLease(refused, reason: "being collected (pid \(pid))") } }
        // Not durable at once: a lease from before a machine crash is dead by boot id.
        return try store.write(durable: false) {
            let ref = try Leases.resolve(selector, root: root)
            guard let row = try store.tree(ref), row.state != .deleted, row.state != .installing else {
                throw TreesError(.notFound, "no tree \(ref)")
            }
            guard row.state == .ready else {
                refused = ref
                throw TreesError(.temporary, "\(ref) is \(row.state.rawValue) and takes no new leases",
                                 hint: "It is being garbage-collected; start the job from `current` instead.")
            }
            let lease = Lease(id: newLeaseID(), tree: ref, bootID: bootID, pid: pid, startTime: identity.startTime,
                              pidfdInode: inode, uid: getuid(), acquiredAt: unixNow(), command: command)
            try store.query("""
                INSERT INTO leases (id, tree_id, boot_id, pid, start_time, pidfd_inode, uid, acquired_at, command)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(lease.id), .int(row.id), .text(bootID), .int(Int64(pid)), .int(Int64(bitPattern: identity.startTime)),
                      inode.map { .int(Int64(bitPattern: $0)) } ?? .null, .int(Int64(getuid())), .int(lease.acquiredAt),
                      command.map { .text($0) } ?? .null])
            return lease
        }
    }

    /// Resolves NAME to NAME@(current rev); NAME@REV stays as given.
    public static func resolve(_ selector: TreeSelector, root: Root) throws -> TreeRef {
        if let rev = selector.rev { return TreeRef(name: selector.name, rev: rev) }
        guard let rev = try Activation.currentRev(of: selector.name, in: root) else {
            throw TreesError(.notFound, "\(selector.name) has no current revision",
                             hint: "Activate one: trees activate \(selector.name)@REV.")
        }
        return TreeRef(name: selector.name, rev: rev)
    }

    /// Releases a lease early; a lease whose process has exited keeps no tree
    /// alive in any case, so a supervisor that crashes leaks nothing.
    /// - Parameter id: `Lease.id` from `acquire`.
    /// - Throws: `.notFound` (66) for an unknown id.
    public func release(_ id: String) throws {
        try store.write {
            try store.query("DELETE FROM leases WHERE id = ?", [.text(id)])
            if store.db.changes == 0 { throw TreesError(.notFound, "no lease \(quoted(id))") }
        }
    }

    /// Every lease (of `ref` if given) with its liveness now.
    public func list(_ ref: TreeRef? = nil) throws -> [(lease: Lease, liveness: Liveness)] {
        let probe = try probe.resolvingBootID()
        let bootID = try probe.bootID()
        let rows = try rows(ref)
        let listed = probe.listedPIDs(toJudge: rows.count)
        return rows.map { ($0, probe.liveness(of: $0, bootID: bootID, listed: listed)) }
    }

    /// How many live leases each tree has, by tree id (`TreeRecord.id`):
    /// what `list` shows. Reads only the columns that judge a row, leaves
    /// rows of another boot to SQL and those whose pid is gone to one
    /// listing of /proc, so ten thousand dead rows cost a query, not a
    /// `Lease` each.
    public func liveCountsByTree() throws -> [Int64: Int] {
        let probe = try probe.resolvingBootID()
        let rows = try store.query("SELECT tree_id, pid, start_time, pidfd_inode FROM leases WHERE boot_id = ?",
                                   [.text(try probe.bootID())])
        let listed = probe.listedPIDs(toJudge: rows.count)
        var counts: [Int64: Int] = [:]
        for row in rows {
            guard let treeID = row[0].int, let pid = row[1].int.map({ Int32(truncatingIfNeeded: $0) }) else { continue }
            let liveness = probe.liveness(pid: pid, startTime: UInt64(bitPattern: row[2].int ?? 0),
                                          pidfdInode: row[3].int.map { UInt64(bitPattern: $0) }, listed: listed)
            if liveness == .live { counts[treeID, default: 0] += 1 }
        }
        return counts
    }

    /// Every lease row (of `ref` if given), not judged.
    func rows(_ ref: TreeRef? = nil) throws -> [Lease] {
        var sql = """
            SELECT l.id, t.name, t.rev, l.boot_id, l.pid, l.start_time, l.pidfd_inode, l.uid, l.acquired_at, l.command, l.cgroup
            FROM leases l JOIN trees t ON t.id = l.tree_id
            """
        var values: [SQLValue] = []
        if let ref {
            sql += " WHERE t.name = ? AND t.rev = ?"
            values = [.text(ref.name.value), .text(ref.rev.value)]
        }
        sql += " ORDER BY l.acquired_at, l.id"
        return try store.query(sql, values).compactMap { row in
            guard let id = row[0].text, let name = row[1].text, let rev = row[2].text,
                  let treeName = try? TreeName(name), let treeRev = try? Rev(rev) else { return nil }
            return Lease(
                id: id, tree: TreeRef(name: treeName, rev: treeRev), bootID: row[3].text ?? "",
                pid: Int32(truncatingIfNeeded: row[4].int ?? 0), startTime: UInt64(bitPattern: row[5].int ?? 0),
                pidfdInode: row[6].int.map { UInt64(bitPattern: $0) }, uid: row[7].int.map { UInt32(truncatingIfNeeded: $0) },
                acquiredAt: row[8].int ?? 0, command: row[9].text, cgroup: row[10].text)
        }
    }

    /// Records the cgroup that `trees exec --cgroup` made for a lease's job.
    public func recordCgroup(_ cgroup: String, for id: String) throws {
        try store.write {
            try store.query("UPDATE leases SET cgroup = ? WHERE id = ?", [.text(cgroup), .text(id)])
            if store.db.changes == 0 { throw TreesError(.notFound, "no lease \(quoted(id))") }
        }
    }

    /// Deletes leases whose process is gone; returns how many. Their job
    /// cgroups (`trees exec --cgroup`) are removed when empty; a dead lease
    /// whose cgroup still holds the job's descendants keeps its row (it keeps
    /// no tree alive: the descendants are found through /proc) until a later
    /// prune finds the cgroup empty and removes it.
    @discardableResult
    public func pruneDead() throws -> Int {
        var book = try LeaseBook(self)
        return try pruneDead(try book.dead())
    }

    /// Deletes the rows of `deadLeases` (judged dead by the caller, once: a
    /// dead process never comes back, a reused pid is another process).
    func pruneDead(_ deadLeases: [Lease]) throws -> Int {
        guard !deadLeases.isEmpty else { return 0 }
        let populated = Cgroup.removeEmptyJobCgroups(leases: deadLeases, procRoot: probe.procRoot)
        let dead = deadLeases.map(\.id).filter { !populated.contains($0) }
        guard !dead.isEmpty else { return 0 }
        return try store.write {
            var count = 0
            for id in dead {
                try store.query("DELETE FROM leases WHERE id = ?", [.text(id)])
                count += store.db.changes
            }
            return count
        }
    }

    /// Runs `body` while this process holds a lease on `selector`: the
    /// tree's lease lock taken shared (as `trees exec` takes it, so gc keeps
    /// the tree whatever the database says) and a row recording it; both are
    /// released when `body` returns or throws. Children `body` starts are
    /// found through /proc (cwd, exe, maps…) as long as they run from the tree.
    /// - Parameters:
    ///   - selector: `NAME` (its current revision, resolved once) or `NAME@REV`.
    ///   - body: the work, given the lease (its `tree` says which revision).
    /// - Throws: what `acquire` throws, `.temporary` (75) when the lock stays
    ///   held exclusive for the lock timeout, then whatever `body` throws.
    public func withLease<T>(_ selector: TreeSelector, _ body: (Lease) throws -> T) throws -> T {
        let ref = try Leases.resolve(selector, root: root)
        let lock = try TreeLock.shared(ref, in: root)
        let lease = try acquire(TreeSelector(name: ref.name, rev: ref.rev), pid: getpid())
        defer {
            try? release(lease.id)
            withExtendedLifetime(lock) {}
        }
        return try body(lease)
    }
}

func newLeaseID() -> String {
    var bytes = [UInt8](repeating: 0, count: 8)
    _ = CT_getrandom(&bytes, bytes.count)
    return hex(bytes)
}
