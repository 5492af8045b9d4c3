#if canImport(Glibc)
import Glibc
#endif

/// One POSIX thread running one closure, joined by its starter: the second
/// core's share of a /proc scan or of an install's copy. A plain pthread
/// rather than Dispatch or Swift concurrency: both are synchronous code
/// called from synchronous commands, and the closure's state (a reader,
/// caches, a buffer) is used by this thread alone until `join`, or handed
/// over under a lock (`FileCopyQueue`). That is what makes running a
/// non-Sendable closure on another thread sound: it crosses through
/// pthread_create's context pointer, which the compiler does not check,
/// so nothing here claims Sendable.
final class WorkerThread {
    private let body: () -> Void
    private var thread = pthread_t()

    init(_ body: @escaping () -> Void) { self.body = body }

    /// Starts the thread; false when it cannot be created (the caller then
    /// does the work itself).
    func start() -> Bool {
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            let worker = Unmanaged<WorkerThread>.fromOpaque(raw).takeRetainedValue()
            worker.body()
            return nil
        }, context)
        if rc != 0 {
            Unmanaged<WorkerThread>.fromOpaque(context).release()
            return false
        }
        return true
    }

    func join() { pthread_join(thread, nil) }

    /// Lets the thread end on its own, never joined: a scan's worker that
    /// may be left blocked in the kernel (a stalled FUSE file) past its
    /// deadline. The process's exit ends it.
    func detach() { pthread_detach(thread) }
}
