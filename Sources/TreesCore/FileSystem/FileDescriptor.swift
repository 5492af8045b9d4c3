#if canImport(Glibc)
import Glibc
#endif

/// An open file descriptor, closed when the value goes away.
public final class FileDescriptor: Sendable {
    public let raw: Int32
    public init(_ raw: Int32) { self.raw = raw }
    deinit { close(raw) }
}
