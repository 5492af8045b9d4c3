#if canImport(Glibc)
import Glibc
#endif
import CTreesShim

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
