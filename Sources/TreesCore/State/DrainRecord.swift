/// A drain of one tree as the database keeps it (`drains`, `drain_steps`):
/// enough for a re-run to resume it where it stopped, on the same clock.
public struct DrainRecord: Sendable, Equatable {
    public var tree: TreeRef
    /// The protocol's canonical text (`DrainProtocol.description`).
    public var protocolText: String
    /// Unix seconds; every absolute deadline counts from here.
    public var startedAt: Int64
    /// When nothing ran from the tree any more; nil while processes remain
    /// (or a re-run found new ones). The drain lasts until `--cancel` either way.
    public var finishedAt: Int64?
    /// When each step was sent, by its index in the protocol.
    public var sentAt: [Int: Int64]
}

/// A process a drain step signalled, by the identity that pid reuse cannot fake.
public struct SignalledProcess: Sendable, Hashable {
    public var bootID: String
    public var pid: Int32
    public var startTime: UInt64

    public init(bootID: String, pid: Int32, startTime: UInt64) {
        self.bootID = bootID
        self.pid = pid
        self.startTime = startTime
    }
}
