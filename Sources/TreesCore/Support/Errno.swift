#if canImport(Glibc)
import Glibc
#endif

/// An errno as an `Error`, for `Result`.
struct Errno: Error, Equatable {
    var value: Int32
    init(_ value: Int32) { self.value = value }
}
