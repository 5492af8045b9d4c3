#if canImport(Glibc)
import Glibc
#endif

/// Which trees GC may consider.
public struct GCPolicy: Sendable {
    /// How many of the most recently installed non-current trees of each name to keep.
    public var keep: Int = 2
    /// Seconds a tree must have been out of `current` (or installed, if never current).
    public var minAge: Int64 = 300
    /// Seconds of history (`trees log`) to keep; older entries are pruned by gc. Nil keeps all.
    public var historyRetention: Int64? = 90 * 86400

    public init(keep: Int = 2, minAge: Int64 = 300, historyRetention: Int64? = 90 * 86400) {
        self.keep = keep
        self.minAge = minAge
        self.historyRetention = historyRetention
    }
}
