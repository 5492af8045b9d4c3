#if canImport(Glibc)
import Glibc
#endif

/// Whether a lease's process is still the process that took it.
public enum Liveness: String, Sendable, Encodable {
    case live
    /// The process exited (or is a zombie: it no longer runs any code).
    case exited
    /// The pid now belongs to another process.
    case reused = "pid-reused"
    /// Taken in an earlier boot.
    case otherBoot = "other-boot"
}
