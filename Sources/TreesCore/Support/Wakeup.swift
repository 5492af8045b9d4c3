#if canImport(Glibc)
import Glibc
#endif

/// A counting semaphore (`sem_t` at a stable address) that one thread posts
/// and another waits on: a scan's finishing worker wakes its supervisor
/// (with a timeout, `InspectionQueue`), an install's walk wakes its copier
/// (`FileCopyQueue`). What the waiter looks at is kept under a `Mutex`;
/// this only says "look again".
///
/// Unchecked: the compiler cannot see into a `sem_t` behind a pointer, and
/// InspectionQueue (Sendable) holds one. Sound because the pointer never
/// changes and sem_post, sem_wait and sem_timedwait are safe from any thread:
/// that is what a semaphore is for.
final class Wakeup: @unchecked Sendable {
    private let semaphore: UnsafeMutablePointer<sem_t>

    init() {
        semaphore = .allocate(capacity: 1)
        sem_init(semaphore, 0, 0)
    }

    deinit {
        sem_destroy(semaphore)
        semaphore.deallocate()
    }

    func post() { sem_post(semaphore) }

    /// Waits for a post (`sem_wait`, retried on EINTR).
    func wait() {
        while sem_wait(semaphore) != 0 && errno == EINTR {}
    }

    /// Waits for a post at most `seconds` (`sem_timedwait` on CLOCK_REALTIME, retried on EINTR).
    func wait(seconds: Double) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let whole = Int(seconds)
        ts.tv_sec += whole
        ts.tv_nsec += Int((seconds - Double(whole)) * 1e9)
        if ts.tv_nsec >= 1_000_000_000 { ts.tv_sec += 1; ts.tv_nsec -= 1_000_000_000 }
        while sem_timedwait(semaphore, &ts) != 0 && errno == EINTR {}
    }
}
