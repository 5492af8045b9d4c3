#if canImport(Glibc)
import Glibc
#endif

/// Which trees GC may consider.
public struct GCPolicy: Sendable {
    /// How many of the most recently installed non-current trees of each name to keep.
    public var keep: Int = 2
    /// Seconds a tree must have been out of `current` (or installed, if never current).
    public var minAge: Int64 = 300

    public init(keep: Int = 2, minAge: Int64 = 300) {
        self.keep = keep
        self.minAge = minAge
    }
}
