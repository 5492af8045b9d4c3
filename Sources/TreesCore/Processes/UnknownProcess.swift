#if canImport(Glibc)
import Glibc
#endif

/// A process whose trees could not be told, e.g. `environ: Permission denied`.
/// It might run from any tree, so consumers fail closed on it. Pid 0 stands
/// for processes that the proc mount hides altogether.
public struct UnknownProcess: Sendable {
    public var pid: Int32
    public var command: String
    public var reason: String

    public init(pid: Int32, command: String, reason: String) {
        self.pid = pid
        self.command = command
        self.reason = reason
    }
}
