#if canImport(Glibc)
import Glibc
#endif

extension Root {
    /// `ROOT/NAME`, opened, when `ROOT/NAME/REV` is a real directory in it
    /// (not a symlink, not a file); nil when either is missing. The one check
    /// every command makes before it acts on a tree (DESIGN.md invariant 9):
    /// paths come from the validated NAME and REV, never from a database row.
    /// - Throws: when `ROOT/NAME` is not a real directory, or a `stat` fails
    ///   for another reason than absence.
    func treeParent(_ ref: TreeRef) throws -> Directory? {
        guard let nameDir = try nameDirectory(ref.name), try isRealDirectory(nameDir, ref.rev.value) else { return nil }
        return nameDir
    }

    /// Whether `ROOT/NAME/REV` is a real directory.
    func hasTree(_ ref: TreeRef) throws -> Bool { try treeParent(ref) != nil }
}
