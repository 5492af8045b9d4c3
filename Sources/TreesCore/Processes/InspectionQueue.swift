#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The pids of one scan, handed out to worker threads one at a time under
/// a watch: a worker that takes longer than the deadline over one process
/// (blocked in the kernel by a stalled FUSE or network file, or on a
/// process's memory lock) is abandoned, that process is reported unknown,
/// and a fresh worker takes the rest. Nothing a process holds can make a
/// scan, or the gc lock held around it, last without bound.
final class InspectionQueue: Sendable {
    private struct State {
        var next = 0
        var results: [ProcInspection?]
        /// Each live worker's current pid index and when it took it.
        var current: [Int: (index: Int, since: Double)] = [:]
        var abandoned: Set<Int> = []
        var lastWorker = 0
    }

    private let state: Mutex<State>
    private let wake = Wakeup()

    init(count: Int) { state = Mutex(State(results: Array(repeating: nil, count: count))) }

    /// A new worker's number.
    func register() -> Int {
        state.withLock { s in
            s.lastWorker += 1
            s.current[s.lastWorker] = (-1, monotonicNow())
            return s.lastWorker
        }
    }

    /// The next pid index for `worker`, or nil when none is left or the
    /// worker was abandoned (then it must stop).
    func take(worker: Int) -> Int? {
        let index: Int? = state.withLock { s in
            guard !s.abandoned.contains(worker), s.next < s.results.count else {
                s.current[worker] = nil
                return nil
            }
            let index = s.next
            s.next += 1
            s.current[worker] = (index, monotonicNow())
            return index
        }
        if index == nil { wake.post() }
        return index
    }

    /// Stores a finished inspection; false when the worker was abandoned
    /// meanwhile (its answer is dropped: the process is already unknown).
    func finish(worker: Int, index: Int, _ result: ProcInspection) -> Bool {
        state.withLock { s in
            guard !s.abandoned.contains(worker) else { return false }
            s.results[index] = result
            return true
        }
    }

    /// Abandons every worker stuck on one process for longer than
    /// `deadline` seconds, storing `stalled(index)` for that process.
    /// Returns how many were abandoned, whether all work is done, and the
    /// soonest moment a running inspection could pass its deadline.
    func watch(deadline: Double, stalled: (Int) -> ProcInspection) -> (abandoned: Int, done: Bool, nextCheck: Double) {
        let now = monotonicNow()
        return state.withLock { s in
            var count = 0
            var soonest = now + deadline
            for (worker, work) in s.current where work.index >= 0 {
                if now - work.since > deadline {
                    s.abandoned.insert(worker)
                    s.current[worker] = nil
                    s.results[work.index] = stalled(work.index)
                    count += 1
                } else {
                    soonest = min(soonest, work.since + deadline)
                }
            }
            let done = s.current.isEmpty && s.next >= s.results.count
            return (count, done, soonest)
        }
    }

    /// Gives up every worker and every pid not yet judged, storing
    /// `unjudged(index)` for each.
    func abandonAll(unjudged: (Int) -> ProcInspection) {
        state.withLock { s in
            for (worker, work) in s.current {
                s.abandoned.insert(worker)
                if work.index >= 0 { s.results[work.index] = unjudged(work.index) }
            }
            s.current = [:]
            for index in s.next..<s.results.count { s.results[index] = unjudged(index) }
            s.next = s.results.count
        }
    }

    /// Forgets a worker whose thread could not be started.
    func unregister(_ worker: Int) { state.withLock { _ = $0.current.removeValue(forKey: worker) } }

    /// Whether any worker is still registered and not abandoned.
    var hasWorkers: Bool { state.withLock { !$0.current.isEmpty } }

    /// Takes the rest of the work on the calling thread (no worker could be started).
    func takeRemaining() -> [Int] {
        state.withLock { s in
            let rest = Array(s.next..<s.results.count)
            s.next = s.results.count
            return rest
        }
    }

    func store(_ index: Int, _ result: ProcInspection) { state.withLock { $0.results[index] = result } }

    /// Waits for a worker to finish, at most until `until` (monotonic seconds).
    func wait(until: Double) { wake.wait(seconds: max(0.001, until - monotonicNow())) }

    /// The inspections in pid order; nil for none (skipped).
    var results: [ProcInspection?] { state.withLock { $0.results } }
}
