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
    /// Another user's process, every read of which was refused to a scan
    /// that lacks `CAP_SYS_PTRACE` or `CAP_DAC_READ_SEARCH`: one of many
    /// alike, which reports count and explain once (`UsageReport.privilegeNotice`)
    /// instead of listing.
    public var lacksPrivilege: Bool

    public init(pid: Int32, command: String, reason: String, lacksPrivilege: Bool = false) {
        self.pid = pid
        self.command = command
        self.reason = reason
        self.lacksPrivilege = lacksPrivilege
    }
}
