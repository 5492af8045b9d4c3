#if canImport(Glibc)
import Glibc
#endif

/// One POSIX thread running one closure, joined by its starter. A plain
/// pthread rather than Dispatch or Swift concurrency: the scan is
/// synchronous code called from synchronous commands, and the closure's
/// state (a reader, caches) is used by this thread alone until `join`,
/// which is what makes the unchecked sendability sound.
final class ScanWorker: @unchecked Sendable {
    private let body: () -> Void
    private var thread = pthread_t()

    init(_ body: @escaping () -> Void) { self.body = body }

    /// Starts the thread; false when it cannot be created (the caller then
    /// does the work itself).
    func start() -> Bool {
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            let worker = Unmanaged<ScanWorker>.fromOpaque(raw).takeRetainedValue()
            worker.body()
            return nil
        }, context)
        if rc != 0 {
            Unmanaged<ScanWorker>.fromOpaque(context).release()
            return false
        }
        return true
    }

    func join() { pthread_join(thread, nil) }
}

/// What the second worker found, read by the starter after `join`.
final class WorkerResult: @unchecked Sendable {
    var inspections: [ProcInspection] = []
}
