#if canImport(Glibc)
import Glibc
#endif
import CTreesShim

/// Blocks until nothing runs from a tree. It does not spin: it polls a pidfd
/// of every process found holding the tree (waking the moment one exits),
/// the `cgroup.events` of the tree's job cgroups (`trees exec --cgroup`;
/// waking when one empties), and rescans /proc on a modest interval for
/// processes that start later.
public struct Waiter {
    public let scanner: UsageScanner
    /// Seconds between rescans when no holder exits.
    public var interval: Double = 1.0

    public init(scanner: UsageScanner) { self.scanner = scanner }

    /// Waits until `ref` has no holder and no unknown process remains. On
    /// success, the empty job cgroups of the tree's leases are removed.
    /// - Returns: the last report; its holders of `ref` are empty on success,
    ///   and are who is still there when `timeout` (seconds) ran out.
    public func wait(for ref: TreeRef, timeout: Double?) throws -> (done: Bool, report: UsageReport) {
        let deadline = timeout.map { monotonicNow() + $0 }
        let hierarchy = scanner.store == nil ? nil : Cgroup.find(procRoot: scanner.probe.procRoot)
        while true {
            let report = try scanner.scan()
            let holders = report.holders(of: ref)
            let leases = try jobCgroupLeases(of: ref, hierarchy: hierarchy)
            if holders.isEmpty && report.unknown.isEmpty {
                Cgroup.removeEmptyJobCgroups(leases: leases, procRoot: scanner.probe.procRoot)
                return (true, report)
            }
            var remaining = interval
            if let deadline {
                let left = deadline - monotonicNow()
                if left <= 0 { return (false, report) }
                remaining = min(remaining, left)
            }
            let cgroups = hierarchy.map { h in leases.compactMap(\.validJobCgroup).map(h.absolutePath) } ?? []
            waitForAnyExit(Set(holders.map(\.pid)), startTimes: Dictionary(holders.map { ($0.pid, $0.startTime) }, uniquingKeysWith: { a, _ in a }),
                           cgroups: cgroups, seconds: remaining)
        }
    }

    /// Every lease of `ref` (live or not: the job may have exited while its
    /// descendants still run) that recorded a job cgroup.
    private func jobCgroupLeases(of ref: TreeRef, hierarchy: Cgroup?) throws -> [Lease] {
        guard hierarchy != nil, let store = scanner.store else { return [] }
        return try Leases(root: scanner.root, store: store, probe: scanner.probe).list(ref).map(\.lease).filter { $0.cgroup != nil }
    }

    /// Polls pidfds of `pids` (readable once the process exits) and the
    /// `cgroup.events` of populated `cgroups` (an absolute path each;
    /// `POLLPRI` when `populated` changes) for up to `seconds`.
    func waitForAnyExit(_ pids: Set<Int32>, startTimes: [Int32: UInt64], cgroups: [String], seconds: Double) {
        var fds: [pollfd] = []
        defer { fds.forEach { close($0.fd) } }
        for pid in pids {
            let fd = CT_pidfd_open(pid, 0)
            if fd < 0 { continue }
            // The pid may have been reused between scan and open: only watch
            // the process the scan saw.
            if let now = scanner.probe.stat(of: pid), now.startTime == startTimes[pid] {
                fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
            } else {
                close(fd)
                return // it already changed: rescan now
            }
        }
        for path in cgroups {
            let fd = retryingEINTR { open(path + "/cgroup.events", O_RDONLY | O_CLOEXEC) }
            if fd < 0 { continue }
            // Reading it arms the notification: poll reports POLLPRI once
            // the file changes after this read.
            var scratch = [UInt8](repeating: 0, count: 256)
            guard let text = try? PseudoFile.readToEnd(fd, file: path, scratch: &scratch),
                  Cgroup.populated(inEvents: text) == true else {
                close(fd)
                continue
            }
            fds.append(pollfd(fd: fd, events: Int16(POLLPRI), revents: 0))
        }
        let ms = Int32(max(0, min(seconds, 3600)) * 1000)
        _ = retryingEINTR { poll(&fds, nfds_t(fds.count), ms) }
    }
}
