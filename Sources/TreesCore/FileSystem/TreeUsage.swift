#if canImport(Glibc)
import Glibc
#endif

/// How the bytes of a tree's regular files are held on disk: those only
/// this tree links (what deleting it would free) and those whose inode has
/// another link too (a deduplicated install shares them with another tree
/// of the same NAME; gc frees them only with the last tree holding them).
public struct TreeUsage: Sendable, Equatable, Encodable {
    public var ownBytes: Int64 = 0
    public var sharedBytes: Int64 = 0

    public init(ownBytes: Int64 = 0, sharedBytes: Int64 = 0) {
        self.ownBytes = ownBytes
        self.sharedBytes = sharedBytes
    }
}

extension Root {
    /// Measures `ROOT/NAME/REV` by link counts: one `fstatat` per entry,
    /// fd-relatively, never following a symlink nor crossing into another
    /// filesystem. Nil when the tree is not on disk.
    public func usage(of ref: TreeRef) throws -> TreeUsage? {
        guard let parent = try treeParent(ref) else { return nil }
        let top = try parent.openDirectory(ref.rev.value)
        let device = try top.status().st_dev
        var usage = TreeUsage()
        var stack = [top]
        while let dir = stack.popLast() {
            for entry in try dir.entries() {
                let st = try dir.status(entry.name)
                switch st.st_mode & S_IFMT {
                case S_IFDIR where st.st_dev == device:
                    stack.append(try dir.openDirectory(entry.name))
                case S_IFREG:
                    if st.st_nlink > 1 { usage.sharedBytes += Int64(st.st_size) } else { usage.ownBytes += Int64(st.st_size) }
                default:
                    continue
                }
            }
        }
        return usage
    }
}
