#if canImport(Glibc)
import Glibc
#endif

/// The result of one pass over /proc. A process some of whose files could
/// not be read is in `unknown`, and also in `processes` if the rest showed
/// evidence.
public struct ProcScan: Sendable {
    /// Processes with evidence for at least one tree, by pid.
    public var processes: [ProcessEvidence]
    public var unknown: [UnknownProcess]
    /// Trees the kernel holds for no process: mounts, loop devices, swap files.
    public var kernel: [KernelHold]
    /// The capabilities the scan lacked to read other users' processes (`ScanCapabilities`).
    public var missingCapabilities: [String] = []

    public init(processes: [ProcessEvidence], unknown: [UnknownProcess], kernel: [KernelHold] = []) {
        self.processes = processes
        self.unknown = unknown
        self.kernel = kernel
    }

    /// The processes running from `ref`.
    public func holders(of ref: TreeRef) -> [ProcessEvidence] {
        processes.filter { $0.trees[ref] != nil }
    }
}
