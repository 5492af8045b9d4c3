#if canImport(Glibc)
import Glibc
#endif

/// A process that runs from at least one tree, and the evidence for each.
public struct ProcessEvidence: Sendable {
    public var pid: Int32
    public var startTime: UInt64
    /// The real uid from the `Uid:` line of `status`, nil if it could not be read.
    public var uid: UInt32?
    /// The arguments joined by spaces, or `[comm]` when there are none.
    /// For display only: nothing read from a process is ever run.
    public var command: String
    public var trees: [TreeRef: Set<EvidenceKind>]
    /// The file kinds (exe, cwd, root, fd, maps) placed only by how the
    /// kernel spelled their path, because it gave no identity for the
    /// reference (a failed `statx`, a fake proc root): the fallback.
    public var bySpelling: [TreeRef: Set<EvidenceKind>] = [:]

    public init(pid: Int32, startTime: UInt64, uid: UInt32?, command: String, trees: [TreeRef: Set<EvidenceKind>]) {
        self.pid = pid
        self.startTime = startTime
        self.uid = uid
        self.command = command
        self.trees = trees
    }
}
