#if canImport(Glibc)
import Glibc
#endif
import CTreesShim

/// The outcome of an install.
public struct InstallResult: Sendable {
    public var tree: TreeRecord
    public var path: String
    /// True when the same content was already installed (a retried rollout).
    public var alreadyInstalled: Bool
}
