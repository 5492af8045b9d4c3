/// What the store keeps of a tree's manifest: its digest and totals beside
/// the tree's row, and its encoded body. Install's `Manifest` is the one
/// kind; the store names only this, so that the database layer does not
/// depend on how a tree is walked and hashed.
public protocol StoredManifest {
    var digest: String { get }
    /// Bytes of regular files.
    var bytes: Int64 { get }
    /// Entries that are not directories.
    var files: Int64 { get }
    /// The length of the encoded body, and the body in pieces in order:
    /// the store writes it without ever holding all of it.
    var encodedCount: Int { get }
    func forEachEncodedChunk(_ body: (UnsafeRawBufferPointer) throws -> Void) throws
}
