#if canImport(Glibc)
import Glibc
#endif

/// One declared shared path of a code base, as `trees shared NAME add`
/// recorded it: what it is, who owns it and its mode, and whether a
/// source's content at PATH seeds it.
public struct SharedDeclaration: Sendable, Equatable {
    public enum Kind: String, Sendable, Encodable {
        case directory
        case file
    }

    public let name: TreeName
    public let path: SharedPath
    public var kind: Kind
    /// The owner to give it (the job user); nil keeps whoever creates it (the operator).
    public var uid: uid_t?
    public var gid: gid_t?
    /// Permission bits (07777).
    public var mode: mode_t
    /// Whether a source's content at PATH is copied into shared once, while it is empty.
    public var seed: Bool
    public var declaredAt: Int64

    public init(name: TreeName, path: SharedPath, kind: Kind, uid: uid_t? = nil, gid: gid_t? = nil,
                mode: mode_t? = nil, seed: Bool = false, declaredAt: Int64 = 0) {
        self.name = name
        self.path = path
        self.kind = kind
        self.uid = uid
        self.gid = gid
        self.mode = mode ?? (kind == .directory ? 0o755 : 0o644)
        self.seed = seed
        self.declaredAt = declaredAt
    }
}
