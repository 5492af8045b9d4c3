import TreesCore
#if canImport(Glibc)
import Glibc
#endif

/// Where the command line reads its environment: the root's location here,
/// the settings through `Settings.fromEnvironment`, which only the edge (this
/// file, or a Swift program using the library) calls.
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

    /// The settings the environment gives (see `Settings.fromEnvironment`).
    static func settings() throws -> Settings { try Settings.fromEnvironment() }
}
