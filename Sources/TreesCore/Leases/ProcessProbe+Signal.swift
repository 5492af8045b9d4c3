#if canImport(Glibc)
import Glibc
#endif
import CTreesShim

extension ProcessProbe {
    /// The processes this one descends from (its parent, the parent's
    /// parent… up to init), with their start times: a drain run from a shell
    /// or a rollout script sitting in the tree must not signal its own caller.
    public func ancestors() -> Set<SignalledIdentity> {
        var found: Set<SignalledIdentity> = []
        var pid = getppid()
        while pid > 1, found.count < 4096,
              let bytes = try? PseudoFile.read("\(procRoot)/\(pid)/stat"), let parsed = ProcStat(bytes[...]) {
            guard found.insert(SignalledIdentity(pid: pid, startTime: parsed.startTime)).inserted else { break }
            pid = parsed.ppid
        }
        return found
    }

    /// What became of a signal sent by `signal(_:startTime:pidfdInode:with:)`.
    public enum SignalOutcome: Sendable, Equatable {
        case sent
        /// The process had exited: nothing to signal.
        case gone
        /// The pid belongs to another process now: it was not signalled.
        case reused
        /// The kernel refused (`EPERM` for another user's process without the privilege, `ENOSYS` without pidfds).
        case failed(Errno)
    }

    /// Sends `signal` to the process `pid` that started at `startTime` (and,
    /// when known, whose pidfs inode is `pidfdInode`), never to another that
    /// reuses its pid: a pidfd is opened first (`pidfd_open(2)`), the
    /// identity is checked while it pins the process, and the signal goes
    /// through it (`pidfd_send_signal(2)`). A signal that only asks (all but
    /// STOP, TSTP, TTIN, TTOU, CONT and KILL) is followed by CONT, as systemd
    /// does, so a stopped process wakes to act on it.
    public func signal(_ pid: Int32, startTime: UInt64, pidfdInode: UInt64?, with signal: DrainSignal) -> SignalOutcome {
        // A fake proc root describes no process of this host: never signal from it.
        guard procRoot == "/proc", pid > 0 else { return .failed(Errno(ENOSYS)) }
        let fd = CT_pidfd_open(pid, 0)
        if fd < 0 {
            let err = errno
            return err == ESRCH ? .gone : .failed(Errno(err))
        }
        defer { close(fd) }
        // The pidfd now names whoever held the pid when it was opened; if
        // /proc shows the recorded start time after that, it is the process
        // recorded (an older holder of the pid would be dead, and signalling
        // a dead pidfd fails with ESRCH).
        guard let now = stat(of: pid) else { return .gone }
        guard now.startTime == startTime else { return .reused }
        if let pidfdInode, CT_fd_is_pidfs(fd) == 1 {
            var st = Glibc.stat()
            if fstat(fd, &st) == 0 && UInt64(st.st_ino) != pidfdInode { return .reused }
        }
        if CT_pidfd_send_signal(fd, signal.number) != 0 {
            let err = errno
            return err == ESRCH ? .gone : .failed(Errno(err))
        }
        if signal.wakesStopped { _ = CT_pidfd_send_signal(fd, SIGCONT) }
        return .sent
    }

    /// Signals a member of job cgroup `cgroup` that no scan has seen yet (a
    /// fork racing the drain): its identity is read once its pidfd pins it,
    /// and it is signalled only while it is in that very cgroup.
    /// - Returns: the outcome and the start time it was signalled under.
    public func signal(member pid: Int32, of cgroup: String, with signal: DrainSignal) -> (SignalOutcome, UInt64?) {
        guard procRoot == "/proc", pid > 0 else { return (.failed(Errno(ENOSYS)), nil) }
        let fd = CT_pidfd_open(pid, 0)
        if fd < 0 { return (errno == ESRCH ? .gone : .failed(Errno(errno)), nil) }
        defer { close(fd) }
        guard let now = stat(of: pid), Cgroup.cgroup(of: pid, procRoot: procRoot) == cgroup else { return (.gone, nil) }
        if CT_pidfd_send_signal(fd, signal.number) != 0 {
            let err = errno
            return (err == ESRCH ? .gone : .failed(Errno(err)), now.startTime)
        }
        if signal.wakesStopped { _ = CT_pidfd_send_signal(fd, SIGCONT) }
        return (.sent, now.startTime)
    }
}

/// A process by pid and start time (this boot's).
public struct SignalledIdentity: Sendable, Hashable {
    public var pid: Int32
    public var startTime: UInt64
}
