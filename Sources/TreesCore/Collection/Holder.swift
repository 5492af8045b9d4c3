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
}
