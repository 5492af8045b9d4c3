import TreesCore
#if canImport(Glibc)
import Glibc
#endif

/// The one place the command line reads its environment. The core library
/// takes values (`Settings`, a root path), never variables, so what a
/// variable changes is decided here, at the edge, and nowhere else.
enum Environment {
    /// The value of `key`, nil when unset or empty.
    static func value(_ key: String) -> String? {
        guard let raw = getenv(key), raw.pointee != 0 else { return nil }
        return String(cString: raw)
    }

    /// `--root`, else `TREES_ROOT`, else `/srv/trees`.
    static func rootLocation(option: String?) -> String {
        if let option, !option.isEmpty { return option }
        return value("TREES_ROOT") ?? Root.defaultPath
    }

    /// `TREES_LOCK_TIMEOUT` (seconds, default 30), `TREES_IGNORE_UNKNOWN_PIDS`
    /// (comma-separated pids) and `TREES_CGROUP_PARENT`.
    /// - Throws: `.usage` (64) for a value that is not what it should be,
    ///   rather than silently falling back to a default.
    static func settings() throws -> Settings {
        var settings = Settings()
        if let text = value("TREES_LOCK_TIMEOUT") {
            guard let seconds = Double(text), seconds >= 0, seconds.isFinite else {
                throw TreesError(.usage, "TREES_LOCK_TIMEOUT must be a number of seconds, 0 or more; got \(quotedForMessage(text))")
            }
            settings.lockTimeout = seconds
        }
        if let text = value("TREES_IGNORE_UNKNOWN_PIDS") {
            var pids: Set<Int32> = []
            for word in text.split(separator: ",") {
                let trimmed = word.drop(while: { $0 == " " })
                guard let pid = Int32(trimmed), pid > 0 else {
                    throw TreesError(.usage, "TREES_IGNORE_UNKNOWN_PIDS must be comma-separated pids; got \(quotedForMessage(text))")
                }
                pids.insert(pid)
            }
            settings.ignoredUnknownPIDs = pids
        }
        settings.cgroupParent = value("TREES_CGROUP_PARENT")
        return settings
    }

    private static func quotedForMessage(_ text: String) -> String { "'\(text.prefix(64))'" }
}
