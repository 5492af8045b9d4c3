#if canImport(Glibc)
import Glibc
#endif
import CTreesShim

/// Blocks until nothing runs from a tree. It does not spin: it polls a pidfd
/// of every process found holding the tree (waking the moment one exits) and
/// rescans /proc on a modest interval for processes that start later.
public struct Waiter {
    public let scanner: UsageScanner
    /// Seconds between rescans when no holder exits.
    public var interval: Double = 1.0

    public init(scanner: UsageScanner) { self.scanner = scanner }

    /// Waits until `ref` has no holder and no unknown process remains.
    /// - Returns: the last report; its holders of `ref` are empty on success,
    ///   and are who is still there when `timeout` (seconds) ran out.
    public func wait(for ref: TreeRef, timeout: Double?) throws -> (done: Bool, report: UsageReport) {
        let deadline = timeout.map { monotonicNow() + $0 }
        while true {
            let report = try scanner.scan()
            let holders = report.holders(of: ref)
            if holders.isEmpty && report.unknown.isEmpty { return (true, report) }
            var remaining = interval
            if let deadline {
                let left = deadline - monotonicNow()
                if left <= 0 { return (false, report) }
                remaining = min(remaining, left)
            }
            waitForAnyExit(Set(holders.map(\.pid)), startTimes: Dictionary(holders.map { ($0.pid, $0.startTime) }, uniquingKeysWith: { a, _ in a }), seconds: remaining)
        }
    }

    /// Polls pidfds of `pids` (readable once the process exits) for up to `seconds`.
    private func waitForAnyExit(_ pids: Set<Int32>, startTimes: [Int32: UInt64], seconds: Double) {
        var fds: [pollfd] = []
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
        defer { fds.forEach { close($0.fd) } }
        let ms = Int32(max(0, min(seconds, 3600)) * 1000)
        _ = retryingEINTR { poll(&fds, nfds_t(fds.count), ms) }
    }
}
