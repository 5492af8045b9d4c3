#if canImport(Glibc)
import Glibc
#endif

/// What the caller decides and the core obeys. The command line builds it
/// once with `fromEnvironment` (`TREES_LOCK_TIMEOUT`,
/// `TREES_IGNORE_UNKNOWN_PIDS`, `TREES_CGROUP_PARENT`); a Swift program sets
/// the fields it wants, or calls `fromEnvironment` too. Nothing else in the
/// core reads the environment, so a library user and a test can set each
/// value, and no variable can change what the library does unless its
/// caller asked for the environment to be read.
public struct Settings: Sendable, Equatable {
    /// Seconds a command waits for a lock or a busy database before it gives
    /// up with status 75.
    public var lockTimeout: Double
    /// Uninspectable pids the operator vouches for (typically `1` in a VM or
    /// container whose init cannot be read even by root). Empty: fail closed.
    public var ignoredUnknownPIDs: Set<Int32>
    /// Where `trees exec --cgroup` makes job cgroups when no parent is given;
    /// nil: under the caller's own cgroup.
    public var cgroupParent: String?

    public init(lockTimeout: Double = 30, ignoredUnknownPIDs: Set<Int32> = [], cgroupParent: String? = nil) {
        self.lockTimeout = lockTimeout
        self.ignoredUnknownPIDs = ignoredUnknownPIDs
        self.cgroupParent = cgroupParent
    }

    /// The one place the library reads environment variables, and only when
    /// its caller asks: `TREES_LOCK_TIMEOUT` (seconds, default 30),
    /// `TREES_IGNORE_UNKNOWN_PIDS` (comma-separated pids) and
    /// `TREES_CGROUP_PARENT`.
    /// - Parameter environment: the variables; nil reads the process's own.
    /// - Throws: `.usage` (64) for a value that is not what it should be,
    ///   rather than silently falling back to a default.
    public static func fromEnvironment(_ environment: [String: String]? = nil) throws -> Settings {
        func value(_ key: String) -> String? {
            if let environment { return environment[key].flatMap { $0.isEmpty ? nil : $0 } }
            guard let raw = getenv(key), raw.pointee != 0 else { return nil }
            return String(cString: raw)
        }
        var settings = Settings()
        if let text = value("TREES_LOCK_TIMEOUT") {
            guard let seconds = Double(text), seconds >= 0, seconds.isFinite else {
                throw TreesError(.usage, "TREES_LOCK_TIMEOUT must be a number of seconds, 0 or more; got \(quoted(String(text.prefix(64))))")
            }
            settings.lockTimeout = seconds
        }
        if let text = value("TREES_IGNORE_UNKNOWN_PIDS") {
            var pids: Set<Int32> = []
            for word in text.split(separator: ",") {
                guard let pid = Int32(word.drop(while: { $0 == " " })), pid > 0 else {
                    throw TreesError(.usage, "TREES_IGNORE_UNKNOWN_PIDS must be comma-separated pids; got \(quoted(String(text.prefix(64))))")
                }
                pids.insert(pid)
            }
            settings.ignoredUnknownPIDs = pids
        }
        settings.cgroupParent = value("TREES_CGROUP_PARENT")
        return settings
    }
}
