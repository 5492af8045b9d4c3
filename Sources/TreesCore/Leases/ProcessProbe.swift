#if canImport(Glibc)
import Glibc
#endif
import CTreesShim

/// Reads what identifies a running process, from a proc root that tests can
/// replace.
public struct ProcessProbe: Sendable {
    public var procRoot: String
    /// The boot id leases are judged against; nil reads it from `procRoot`
    /// when asked. A caller that judges many leases sets it once
    /// (`resolvingBootID()`); a test sets it to pretend a reboot. Only ever a
    /// parameter: no environment variable reaches it, so nobody can make a
    /// release build take live leases for dead.
    public var knownBootID: String?

    public init(procRoot: String = "/proc", bootID: String? = nil) {
        self.procRoot = procRoot
        self.knownBootID = bootID
    }

    public func bootID() throws -> String {
        if let knownBootID { return knownBootID }
        return try ProcFS.bootID(procRoot: procRoot)
    }

    /// This probe with the boot id read once, for a pass over many leases.
    public func resolvingBootID() throws -> ProcessProbe {
        var probe = self
        probe.knownBootID = try bootID()
        return probe
    }

    /// The calling process's pid as the proc filesystem at `procRoot` numbers
    /// it: the first `NSpid` of `/proc/self/status`. Inside a pid namespace
    /// whose parent's /proc is still mounted, that is the pid the host sees
    /// (getpid() would say 1); where the namespace has its own /proc it is
    /// getpid() again, and the lease lock alone holds the tree.
    public func ownPID() -> Int32 {
        guard let bytes = try? PseudoFile.read("\(procRoot)/self/status") else { return getpid() }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("NSpid:") {
            if let first = line.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" }).first, let pid = Int32(first) {
                return pid
            }
        }
        return getpid()
    }

    /// The thread group (process) that task `pid` belongs to, from the
    /// `Tgid:` line of `/proc/PID/status`; nil when it cannot be read.
    func threadGroup(of pid: Int32) -> Int32? {
        guard let bytes = try? PseudoFile.read("\(procRoot)/\(pid)/status") else { return nil }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("Tgid:") {
            return Int32(line.dropFirst(5).drop(while: { $0 == " " || $0 == "\t" }))
        }
        return nil
    }

    /// `(startTime, state)` of a pid from `/proc/PID/stat`, or nil when gone.
    public func stat(of pid: Int32) -> (startTime: UInt64, state: Character)? {
        guard let bytes = try? PseudoFile.read("\(procRoot)/\(pid)/stat"), let parsed = ProcStat(bytes[...]) else { return nil }
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

    /// Whether a thread of `pid`'s thread group other than its leader still
    /// runs. A leader that called `pthread_exit` shows as a zombie in
    /// `/proc/PID/stat` for as long as any other thread lives: the process
    /// has not exited, and its lease must not be taken for dead. Reads
    /// `/proc/PID/task` (`opendir(3)`) and each thread's state.
    func otherThreadRuns(_ pid: Int32) -> Bool {
        guard let dir = opendir("\(procRoot)/\(pid)/task") else { return false }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let tid = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Int32(String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self))
            }
            guard let tid, tid != pid,
                  let bytes = try? PseudoFile.read("\(procRoot)/\(pid)/task/\(tid)/stat"),
                  let parsed = ProcStat(bytes[...]) else { continue }
            if parsed.state != "Z" && parsed.state != "X" { return true }
        }
        return false
    }

    /// The pids listed in `procRoot` now (thread-group leaders only), to
    /// judge `rows` lease rows read just before; nil when they are few (a
    /// failed open each costs less than listing a busy host's /proc) or
    /// /proc cannot be listed. One `getdents` pass, so that ten thousand
    /// rows do not cost ten thousand failed opens of `/proc/PID/stat`:
    /// take it *after* reading the rows (`liveness(of:bootID:listed:)`).
    public func listedPIDs(toJudge rows: Int) -> Set<Int32>? {
        guard rows > 16, let pids = try? SystemProcReader(procRoot: procRoot).processIDs() else { return nil }
        return Set(pids)
    }

    /// Judges a lease against the running system.
    /// - Parameter listed: `listedPIDs(toJudge:)` taken after `lease` was read, or
    ///   nil. A lease's process ran before its row was written, so a pid
    ///   missing from a later listing has exited: no need to open its files.
    ///   (Leases are only ever taken for a thread-group leader, which
    ///   `readdir(/proc)` lists; `acquire` refuses a thread id.)
    public func liveness(of lease: Lease, bootID: String, listed: Set<Int32>? = nil) -> Liveness {
        guard lease.bootID == bootID else { return .otherBoot }
        return liveness(pid: lease.pid, startTime: lease.startTime, pidfdInode: lease.pidfdInode, listed: listed)
    }

    /// Judges a lease of this boot by the columns that identify its process.
    func liveness(pid: Int32, startTime: UInt64, pidfdInode recorded: UInt64?, listed: Set<Int32>?) -> Liveness {
        if let listed, !listed.contains(pid) { return .exited }
        guard let now = stat(of: pid) else { return .exited }
        guard now.startTime == startTime else { return .reused }
        if (now.state == "Z" || now.state == "X") && !otherThreadRuns(pid) { return .exited }
        if let recorded, let inode = pidfdInode(of: pid), inode != recorded {
            return .reused
        }
        return .live
    }
}
