#if canImport(Glibc)
import Glibc
#endif
import CTreesShim

/// A record that process P runs from tree T. P is identified by
/// `(boot_id, pid, starttime)` and, where the kernel has pidfs, by the inode
/// of a pidfd, so that neither pid reuse nor a reboot can fool it.
public struct Lease: Sendable {
    public var id: String
    public var tree: TreeRef
    public var bootID: String
    public var pid: Int32
    public var startTime: UInt64
    public var pidfdInode: UInt64?
    public var uid: UInt32?
    public var acquiredAt: Int64
    public var command: String?
    /// The job's own cgroup (`trees exec --cgroup`), as a path relative to
    /// the cgroup v2 mount, e.g. `/trees/trees-app@r1-0123456789abcdef`.
    public var cgroup: String? = nil
}

/// Whether a lease's process is still the process that took it.
public enum Liveness: String, Sendable, Encodable {
    case live
    /// The process exited (or is a zombie: it no longer runs any code).
    case exited
    /// The pid now belongs to another process.
    case reused = "pid-reused"
    /// Taken in an earlier boot.
    case otherBoot = "other-boot"
}

/// Reads what identifies a running process, from a proc root that tests can
/// replace. Also the seam for a test's boot id.
public struct ProcessProbe: Sendable {
    public var procRoot: String
    public var bootIDOverride: String?

    public init(procRoot: String = "/proc", bootIDOverride: String? = nil) {
        self.procRoot = procRoot
        self.bootIDOverride = bootIDOverride ?? ProcessProbe.environmentBootID()
    }

    /// `TREES_TEST_BOOT_ID` lets an integration test pretend the machine
    /// rebooted; it only ever makes leases look *dead* to the process that
    /// sets it for itself, never alive.
    static func environmentBootID() -> String? {
        guard let v = getenv("TREES_TEST_BOOT_ID"), v.pointee != 0 else { return nil }
        return String(cString: v)
    }

    public func bootID() throws -> String {
        if let bootIDOverride { return bootIDOverride }
        return try ProcFS.bootID(procRoot: procRoot)
    }

    /// `(startTime, state)` of a pid from `/proc/PID/stat`, or nil when gone.
    public func stat(of pid: Int32) -> (startTime: UInt64, state: Character)? {
        guard let bytes = try? ProcFS.readFile("\(procRoot)/\(pid)/stat"), let parsed = ProcStat(bytes[...]) else { return nil }
        return (parsed.startTime, parsed.state)
    }

    /// The pidfs inode of `pid`, or nil where pidfds are not backed by pidfs
    /// (before Linux 6.9) or the process is gone.
    public func pidfdInode(of pid: Int32) -> UInt64? {
        guard procRoot == "/proc" else { return nil }
        let fd = CT_pidfd_open(pid, 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard CT_fd_is_pidfs(fd) == 1 else { return nil }
        var st = Glibc.stat()
        guard fstat(fd, &st) == 0 else { return nil }
        return UInt64(st.st_ino)
    }

    /// Judges a lease against the running system.
    public func liveness(of lease: Lease, bootID: String) -> Liveness {
        guard lease.bootID == bootID else { return .otherBoot }
        guard let now = stat(of: lease.pid) else { return .exited }
        guard now.startTime == lease.startTime else { return .reused }
        if now.state == "Z" || now.state == "X" { return .exited }
        if let recorded = lease.pidfdInode, let inode = pidfdInode(of: lease.pid), inode != recorded {
            return .reused
        }
        return .live
    }
}

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
        let bootID = try probe.bootID()
        let inode = probe.pidfdInode(of: pid)
        return try store.write {
            let ref = try Leases.resolve(selector, root: root)
            guard let row = try store.tree(ref), row.state != .deleted, row.state != .installing else {
                throw TreesError(.notFound, "no tree \(ref)")
            }
            guard row.state == .ready else {
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

    /// Releases a lease. Throws `.notFound` (66) for an unknown id.
    public func release(_ id: String) throws {
        try store.write {
            try store.query("DELETE FROM leases WHERE id = ?", [.text(id)])
            if store.db.changes == 0 { throw TreesError(.notFound, "no lease \(quoted(id))") }
        }
    }

    /// Every lease (of `ref` if given) with its liveness now.
    public func list(_ ref: TreeRef? = nil) throws -> [(lease: Lease, liveness: Liveness)] {
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
        let bootID = try probe.bootID()
        return try store.query(sql, values).compactMap { row in
            guard let id = row[0].text, let name = row[1].text, let rev = row[2].text,
                  let treeName = try? TreeName(name), let treeRev = try? Rev(rev) else { return nil }
            let lease = Lease(
                id: id, tree: TreeRef(name: treeName, rev: treeRev), bootID: row[3].text ?? "",
                pid: Int32(truncatingIfNeeded: row[4].int ?? 0), startTime: UInt64(bitPattern: row[5].int ?? 0),
                pidfdInode: row[6].int.map { UInt64(bitPattern: $0) }, uid: row[7].int.map { UInt32(truncatingIfNeeded: $0) },
                acquiredAt: row[8].int ?? 0, command: row[9].text, cgroup: row[10].text)
            return (lease, probe.liveness(of: lease, bootID: bootID))
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
        let deadLeases = try list().filter { $0.liveness != .live }.map(\.lease)
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

    /// Runs `body` while holding a lease for this process on `selector`.
    public func withLease<T>(_ selector: TreeSelector, _ body: (Lease) throws -> T) throws -> T {
        let lease = try acquire(selector, pid: getpid())
        defer { try? release(lease.id) }
        return try body(lease)
    }
}

func newLeaseID() -> String {
    var bytes = [UInt8](repeating: 0, count: 8)
    _ = CT_getrandom(&bytes, bytes.count)
    return hex(bytes)
}
