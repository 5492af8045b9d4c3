#if canImport(Glibc)
import Glibc
#endif

/// Runs a system call, retrying while it fails with EINTR. This is the only
/// place that retries EINTR, so no call site does it ad hoc.
@inline(__always)
public func retryingEINTR<T: BinaryInteger>(_ body: () -> T) -> T {
    while true {
        let result = body()
        if result == -1 && errno == EINTR { continue }
        return result
    }
}

/// Runs a system call that returns -1 on failure, retrying EINTR, and throws
/// a `TreesError` carrying the errno captured immediately after the failure.
@discardableResult
func syscall<T: BinaryInteger>(_ call: String, _ path: @autoclosure () -> String, hint: String? = nil, _ body: () -> T) throws -> T {
    let result = retryingEINTR(body)
    if result == -1 {
        let err = errno
        throw TreesError.system(call, path(), errno: err, hint: hint)
    }
    return result
}
