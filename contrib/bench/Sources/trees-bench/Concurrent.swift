#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// One job wrapper: runs `trees exec` `count` times and keeps each latency.
final class Wrapper: @unchecked Sendable {
    let argv: [String]
    let count: Int
    var latencies: [Double] = []
    var failures = 0
    init(argv: [String], count: Int) { self.argv = argv; self.count = count }

    func work() {
        for _ in 0..<count {
            if let s = try? measure(argv) {
                latencies.append(s.wall)
                if s.status != 0 { failures += 1 }
            } else {
                failures += 1
            }
        }
    }
}

final class Flag: Sendable {
    let value = Atomic<Int>(0)
}

/// Commands in lanes, one thread per lane running its commands in order:
/// builds the aged root's trees and lease rows several processes at a time
/// (a tree's revisions stay in order within their lane).
final class Lanes: @unchecked Sendable {
    let lanes: [[[String]]]
    private let failed = Atomic<Int>(0)
    private let done = Atomic<Int>(0)
    init(_ lanes: [[[String]]]) { self.lanes = lanes }

    /// Runs every lane to its end; returns how many commands failed.
    func run(progress: String) -> Int {
        let total = lanes.map(\.count).reduce(0, +)
        let threads = lanes.map { lane in
            startThread {
                for argv in lane {
                    if (try? measure(argv))?.status != 0 { self.failed.add(1, ordering: .relaxed) }
                    let n = self.done.add(1, ordering: .relaxed).newValue
                    if n % 10_000 == 0 { log("  \(n) of \(total) \(progress)") }
                }
            }
        }
        for t in threads { pthread_join(t, nil) }
        return failed.load(ordering: .relaxed)
    }
}

final class ThreadBody: @unchecked Sendable {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}

func startThread(_ body: @escaping () -> Void) -> pthread_t {
    var thread = pthread_t()
    let context = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    pthread_create(&thread, nil, { raw in
        guard let raw else { return nil }
        Unmanaged<ThreadBody>.fromOpaque(raw).takeRetainedValue().body()
        return nil
    }, context)
    return thread
}

extension Bench {
    /// 8 job wrappers, each running `trees exec` in a loop, with gc looping
    /// beside them: every exec must succeed, and the slowest 1% stay short.
    func concurrent() throws {
        let root = try smallRoot("cc-root", revs: ["r0", "r1"])
        let perWrapper = min(200, max(5, options.jobs / 8))
        let wrappers = (0..<8).map { _ in
            Wrapper(argv: [trees, "exec", "--root", root, "app", "--", "/bin/true"], count: perWrapper)
        }
        let threads = wrappers.map { w in startThread { w.work() } }
        let done = Flag()
        // The gc loop runs here, on the main thread, until the wrappers finish.
        var waiterThread = pthread_t()
        let box = Unmanaged.passRetained(WaitBox(threads: threads, done: done)).toOpaque()
        pthread_create(&waiterThread, nil, { raw in
            guard let raw else { return nil }
            let b = Unmanaged<WaitBox>.fromOpaque(raw).takeRetainedValue()
            for t in b.threads { pthread_join(t, nil) }
            b.done.value.store(1, ordering: .sequentiallyConsistent)
            return nil
        }, box)
        var gcRuns = 0, gcFailures = 0
        while done.value.load(ordering: .sequentiallyConsistent) == 0 {
            let s = try measure([trees, "gc", "--root", root, "--keep", "0", "--min-age", "0", "--wait-lock"],
                                environment: treesEnvironment)
            gcRuns += 1
            if s.status != 0 { gcFailures += 1 }
        }
        pthread_join(waiterThread, nil)
        let latencies = wrappers.flatMap(\.latencies)
        let failures = wrappers.map(\.failures).reduce(0, +)
        let p99 = percentile(latencies, 0.99)
        rows.append(Row(operation: "8 concurrent job wrappers × \(perWrapper) execs, gc looping",
                        workload: "\(latencies.count) execs, \(gcRuns) gc runs",
                        trees: "\(failures) failures, p99 \(duration(p99)), median \(duration(median(latencies)))",
                        peer: "gc failures: \(gcFailures)", ratio: "—", target: "0 failures, p99 exec ≤ 50 ms",
                        met: failures == 0 && p99 <= 0.050,
                        values: ["failures": Double(failures), "p99_s": p99, "median_s": median(latencies),
                                 "gc_runs": Double(gcRuns), "gc_failures": Double(gcFailures)]))
    }
}

final class WaitBox: @unchecked Sendable {
    let threads: [pthread_t]
    let done: Flag
    init(threads: [pthread_t], done: Flag) { self.threads = threads; self.done = done }
}
