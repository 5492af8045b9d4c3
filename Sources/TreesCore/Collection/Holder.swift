#if canImport(Glibc)
import Glibc
#endif

/// One process running from one tree, and why we believe so.
public struct Holder: Sendable {
    public var pid: Int32
    public var tree: TreeRef
    public var evidence: Set<EvidenceKind>
    public var command: String
    public var startTime: UInt64
    public var leaseID: String?
    /// Evidence kinds placed by the path's spelling alone (`ProcessEvidence.bySpelling`).
    public var bySpelling: Set<EvidenceKind> = []

    /// Held by the kernel (a mount, a loop device, a swap file: `KernelHold`),
    /// not by a process; `command` names the holder.
    public var isKernelHold: Bool { pid == 0 }

    /// `pid 123`, or what holds the tree in the kernel, for messages.
    public var who: String { isKernelHold ? command : "pid \(pid)" }
}
