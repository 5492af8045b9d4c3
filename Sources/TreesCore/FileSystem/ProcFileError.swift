#if canImport(Glibc)
import Glibc
#endif

/// A failed read of one /proc file, with the errno captured right after it.
struct ProcFileError: Error, Equatable {
    /// The file relative to the process directory (`exe`, `fd/3`), for reasons.
    var file: String
    var errno: Errno

    /// The process exited (or its pid directory went away) while we looked.
    var meansGone: Bool { errno == .noSuchFileOrDirectory || errno == .noSuchProcess }
}
