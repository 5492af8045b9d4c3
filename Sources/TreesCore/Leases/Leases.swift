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
        var refused: (tree: TreeRef, why: String)?
        defer { if let refused { try? store.recordRefusedLease(refused.tree, reason: "\(refused.why) (pid \(pid))") } }
        // Not durable at once: a lease from before a machine crash is dead by boot id.
        return try store.write(durable: false) {
            let ref = try Leases.resolve(selector, root: root)
            guard let row = try store.tree(ref), row.state != .deleted, row.state != .installing else {
                throw TreesError(.notFound, "no tree \(ref)")
            }
            let lease = Lease(id: newLeaseID(), tree: ref, bootID: bootID, pid: pid, startTime: identity.startTime,
                              pidfdInode: inode, uid: getuid(), acquiredAt: unixNow(), command: command)
            if let refusal = try store.addLeaseUnlessRefused(lease, treeID: row.id) {
                refused = (ref, refusal.reason)
                throw refusal.error
            }
            return lease
        }
    }

    /// Resolves NAME to NAME@(current rev); NAME@REV stays as given.
    public static func resolve(_ selector: TreeSelector, root: Root) throws -> TreeRef {
        if let rev = selector.rev { return TreeRef(name: selector.name, rev: rev) }
        guard let rev = try root.currentRev(of: selector.name) else {
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
            guard try store.releaseLease(id) else { throw TreesError(.notFound, "no lease \(quoted(id))") }
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
        let rows = try store.leaseIdentities(bootID: try probe.bootID())
        let listed = probe.listedPIDs(toJudge: rows.count)
        var counts: [Int64: Int] = [:]
        for row in rows {
            let liveness = probe.liveness(pid: row.pid, startTime: row.startTime, pidfdInode: row.pidfdInode, listed: listed)
            if liveness == .live { counts[row.treeID, default: 0] += 1 }
        }
        return counts
    }

    /// Every lease row (of `ref` if given), not judged.
    func rows(_ ref: TreeRef? = nil) throws -> [Lease] {
        try store.leases(ref)
    }

    /// Records the cgroup that `trees exec --cgroup` made for a lease's job.
    public func recordCgroup(_ cgroup: String, for id: String) throws {
        try store.write {
            guard try store.setLeaseCgroup(cgroup, for: id) else { throw TreesError(.notFound, "no lease \(quoted(id))") }
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
        return try store.write { try store.releaseLeases(dead) }
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
        return try TreeLock.withShared(ref, in: root) { _ in
            let lease = try acquire(TreeSelector(name: ref.name, rev: ref.rev), pid: getpid())
            defer { try? release(lease.id) }
            return try body(lease)
        }
    }
}

func newLeaseID() -> String {
    var bytes = [UInt8](repeating: 0, count: 8)
    _ = CT_getrandom(&bytes, bytes.count)
    return hex(bytes)
}
