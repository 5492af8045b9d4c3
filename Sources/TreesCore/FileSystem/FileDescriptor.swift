#if canImport(Glibc)
import Glibc
#endif

/// An open file descriptor, closed exactly once: when the value goes away.
///
/// Noncopyable rather than a class: a second owner can neither close it
/// early nor keep it open by accident, and the compiler checks that nothing
/// uses it after `close()`. The language promises its lifetime only up to
/// its last use (SE-0390), so a descriptor that something else reads
/// through (libarchive, a held lock) is kept open across that work by a
/// borrow (`whileOpen`) or a later `close()`, never by the scope alone.
public struct FileDescriptor: ~Copyable, Sendable {
    public let raw: Int32
    public init(_ raw: Int32) { self.raw = raw }
    deinit { Glibc.close(raw) }

    /// Closes it here (`deinit` does the work), so nothing can use it after.
    consuming func close() {}

    /// Runs `body` with the descriptor open throughout: the borrow lasts the call.
    borrowing func whileOpen<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        try body()
    }
}
