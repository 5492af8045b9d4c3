#if canImport(Glibc)
import Glibc
#endif

/// Which trees GC may consider.
public struct GCPolicy: Sendable {
    /// How many of the most recently installed non-current trees of each name to keep.
    public var keep: Int = 2
    /// How many of the newest good non-current trees of each name are never
    /// collected by policy, beside `keep`: where a failed rollout returns.
    public var keepGood: Int = 1
    /// Seconds a tree must have been out of `current` (or installed, if never current).
    public var minAge: Int64 = 300
    /// Seconds of history (`trees log`) to keep; older entries are pruned by gc. Nil keeps all.
    public var historyRetention: Int64? = 90 * 86400

    public init(keep: Int = 2, keepGood: Int = 1, minAge: Int64 = 300, historyRetention: Int64? = 90 * 86400) {
        self.keep = keep
        self.keepGood = keepGood
        self.minAge = minAge
        self.historyRetention = historyRetention
    }
}
