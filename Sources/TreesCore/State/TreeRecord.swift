/// One row of the `trees` table.
public struct TreeRecord: Sendable {
    public var id: Int64
    public var ref: TreeRef
    public var state: TreeState
    public var path: String
    public var installedAt: Int64?
    public var activatedAt: Int64?
    public var deactivatedAt: Int64?
    public var bytes: Int64
    public var files: Int64
    public var digest: String?
    public var pinned: Bool
    public var stateChangedAt: Int64?
    public var deletedAt: Int64?
    public var deleteReason: String?
    public var bytesFreed: Int64?
    /// Good, bad or unverified, with who, when and why.
    public var verdict = VerdictRecord()
}
