import Foundation
import Testing

@testable import TreesCore

/// Starts `/bin/sleep 300` (reaped by the test itself, so its pid is free
/// again exactly when the test says).
private func spawnSleep() throws -> pid_t {
    var pid: pid_t = 0
    let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup("300"), nil]
    defer { argv.forEach { free($0) } }
    // The test's threads block most signals, and a child inherits the mask:
    // give the sleeper none blocked, or a signal sent to it would never kill it.
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var none = sigset_t(), all = sigset_t()
    sigemptyset(&none)
    sigfillset(&all)
    posix_spawnattr_setsigmask(&attributes, &none)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    guard posix_spawn(&pid, "/bin/sleep", nil, &attributes, argv, environ) == 0 else { throw TreesError(.failure, "posix_spawn") }
    return pid
}

private func end(_ pid: pid_t) {
    kill(pid, SIGKILL)
    var status: Int32 = 0
    waitpid(pid, &status, 0)
}

/// Whether `pid` still runs and was not signalled (it would be a zombie or gone).
private func runs(_ pid: pid_t) -> Bool {
    var status: Int32 = 0
    return kill(pid, 0) == 0 && waitpid(pid, &status, WNOHANG) == 0
}

@Suite struct DrainerTests {
    /// The race a drain must lose safely: between the scan that saw the job
    /// and its signal, the job exits and the kernel gives its pid to
    /// another process. The signal goes through a pidfd only after the start
    /// time is checked again, so the newcomer is never signalled.
    @Test(.enabled(if: getuid() == 0 && access("/proc/sys/kernel/ns_last_pid", W_OK) == 0, "needs a writable ns_last_pid"))
    func aPidReusedBetweenScanAndSignalIsNeverSignalled() throws {
        let t = try TempDir()
        let (root, store) = try installThreeRevisions(t)
        let r1 = try TreeRef(parsing: "app@r1")
        let victim = try spawnSleep()
        let probe = ProcessProbe()
        let victimStart = try #require(probe.stat(of: victim)?.startTime)
        var scanner = UsageScanner(root: root, store: store)
        let scans = Counter()
        scanner.procScanOverride = {
            scans.value += 1
            return ProcScan(processes: scans.value == 1 ? [ProcessEvidence(pid: victim, startTime: victimStart, uid: 0,
                                                                               command: "sleep 300", trees: [r1: [.cwd]])] : [],
                            unknown: [])
        }
        var drainer = Drainer(scanner: scanner)
        let impostor = Box<pid_t>(0)
        drainer.beforeSignal = { pid in
            guard pid == victim, impostor.value == 0 else { return }
            end(victim)
            // A start time counts clock ticks: a process started in the same
            // tick as the victim would be indistinguishable from it without
            // a pidfs inode, and no real pid comes round again that fast.
            usleep(30_000)
            let nsLastPID = "/proc/sys/kernel/ns_last_pid"
            let original = (try? String(contentsOfFile: nsLastPID, encoding: .utf8)) ?? ""
            for _ in 0..<200 {
                try? String(victim - 1).write(toFile: nsLastPID, atomically: false, encoding: .utf8)
                guard let candidate = try? spawnSleep() else { break }
                if candidate == victim { impostor.value = candidate; break }
                end(candidate)
            }
            try? original.trimmingCharacters(in: .whitespacesAndNewlines).write(toFile: nsLastPID, atomically: false, encoding: .utf8)
        }
        var events: [DrainEvent] = []
        let outcome = try drainer.drain(r1, protocol: nil, includeCurrent: false, timeout: 5) { events.append($0) }
        defer { if impostor.value != 0 { end(impostor.value) } }
        try #require(impostor.value == victim, "could not force pid reuse")
        #expect(probe.stat(of: impostor.value)?.startTime != victimStart)
        #expect(outcome.drained)
        #expect(runs(impostor.value), "the process that took the pid over was signalled")
        #expect(events.contains { if case .skipped(let pid, let why) = $0 { return pid == victim && why.contains("another process") }; return false })
        #expect(!events.contains { if case .signalled = $0 { return true }; return false })
        #expect(try store.signalled(r1, step: 0).isEmpty)
    }

    /// A process that cannot be inspected is never signalled; the drain
    /// does not claim the tree drained while it remains.
    @Test func anUnknownProcessIsNeverSignalled() throws {
        let t = try TempDir()
        let (root, store) = try installThreeRevisions(t)
        let r1 = try TreeRef(parsing: "app@r1")
        let hidden = try spawnSleep()
        defer { end(hidden) }
        var scanner = UsageScanner(root: root, store: store)
        scanner.ignoredUnknownPIDs = []
        scanner.procScanOverride = {
            ProcScan(processes: [], unknown: [UnknownProcess(pid: hidden, command: "sleep 300", reason: "environ: Permission denied")])
        }
        var events: [DrainEvent] = []
        let outcome = try Drainer(scanner: scanner).drain(r1, protocol: try DrainProtocol(parsing: "KILL"), includeCurrent: false, timeout: 2) {
            events.append($0)
        }
        #expect(!outcome.drained && outcome.unknown.map(\.pid) == [hidden])
        #expect(events.contains { if case .unknown(let u) = $0 { return u.pid == hidden }; return false })
        #expect(runs(hidden))
        // The drain began all the same: the tree takes no new lease.
        #expect(throws: TreesError.self) { try Leases(root: root, store: store).acquire(TreeSelector(name: r1.name, rev: r1.rev), pid: getpid()) }
    }
}

private final class Counter: @unchecked Sendable { var value = 0 }
private final class Box<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}
