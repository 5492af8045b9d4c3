/// One disagreement between the database and the disk that `trees doctor`
/// found, and whether `--repair` settled it.
public struct Finding: Sendable, Equatable, Codable {
    /// What kind of disagreement; stable words for scripts.
    public struct Kind: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The database is missing while trees are installed (repair: rebuild it from the disk).
        public static let databaseMissing = Kind(rawValue: "database-missing")
        /// The database is empty (zero bytes, no tables) while trees are installed (repair: rebuild).
        public static let databaseEmpty = Kind(rawValue: "database-empty")
        /// `state.db` is SQLite but not trees' (repair: move it aside, rebuild).
        public static let databaseForeign = Kind(rawValue: "database-foreign")
        /// The database cannot be read at all (never repaired: restore it).
        public static let databaseDamaged = Kind(rawValue: "database-damaged")
        /// A tree row that claims a directory the disk lacks (repair: mark it deleted).
        public static let rowWithoutDirectory = Kind(rawValue: "row-without-directory")
        /// A tree on disk the database does not know (repair: digest it, record it ready).
        public static let directoryWithoutRow = Kind(rawValue: "directory-without-row")
        /// A tree left `installing` by a killed install (repair: adopt or drop).
        public static let stuckInstalling = Kind(rawValue: "stuck-installing")
        /// A tree left `condemned` or `deleting` by a killed gc (repair: reprieve or finish).
        public static let stuckCollecting = Kind(rawValue: "stuck-collecting")
        /// A killed activate's intent without an outcome (repair: finish or undo it from `current`).
        public static let pendingActivation = Kind(rawValue: "pending-activation")
        /// `current` points at no ready tree, or is not a link to a rev (never repaired).
        public static let currentNotReady = Kind(rawValue: "current-not-ready")
        /// The database's record of which rev is current disagrees with the link (repair: record the link).
        public static let activationRecord = Kind(rawValue: "activation-record")
        /// A ready tree without its manifest (repair: rebuild it if the content matches the digest).
        public static let missingManifest = Kind(rawValue: "missing-manifest")
        /// A staging container whose installer is gone (repair: remove it).
        public static let stagingLeftover = Kind(rawValue: "staging-leftover")
        /// A trash entry no gc is working on (repair: finish deleting it, as gc would).
        public static let trashLeftover = Kind(rawValue: "trash-leftover")
        /// A `.current.new` left by a killed activate (repair: remove it).
        public static let linkLeftover = Kind(rawValue: "link-leftover")
        /// A tree a killed install or gc left at `ROOT/NAME/.REV.arriving` or
        /// `.REV.leaving`, between its two renames (repair: seal it and put it
        /// at REV, where its row, or doctor, adopts it; never deleted).
        public static let treeInTransit = Kind(rawValue: "tree-in-transit")
        /// A declared shared path that is missing, of the wrong kind, owner or
        /// mode, or not writable by its owner (repair: create it, set owner and mode).
        public static let sharedPath = Kind(rawValue: "shared-path")
        /// A tree's link to a shared path that is missing (repair: create the shared path).
        public static let sharedLinkDangling = Kind(rawValue: "shared-link-dangling")
        /// A shared path declared inside another (never repaired: remove one declaration).
        public static let sharedNested = Kind(rawValue: "shared-nested")
    }

    public var kind: Kind
    /// The tree (`NAME@REV`) or path concerned.
    public var subject: String
    public var message: String
    public var repaired: Bool = false

    public init(_ kind: Kind, _ subject: String, _ message: String) {
        self.kind = kind
        self.subject = subject
        self.message = message
    }
}
