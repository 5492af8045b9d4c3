/// The shape a tree may have. Install refuses anything beyond these with
/// exit 65 before writing it, so every later walk (seal, digest, verify)
/// of an installed tree is bounded too; `Remover` alone takes any depth,
/// since it must clean up whatever it finds.
///
/// Linux takes longer paths than `PATH_MAX` only through `*at` calls, and
/// other tools (tar, rsync, a job's own `open`) fail on them, so a tree that
/// no job could use whole is refused rather than installed.
public enum TreeLimits {
    /// Components of a path inside a tree (`a/b/c` has 3).
    public static let maxDepth = 256
    /// Bytes of one name component (`NAME_MAX`).
    public static let maxNameBytes = 255
    /// Bytes of a path inside a tree, or of a symlink's target (`PATH_MAX` less its NUL).
    public static let maxPathBytes = 4095

    /// Why `components` (a path inside a tree) is refused, or nil when allowed.
    static func problem(with components: [FileName]) -> String? {
        if components.count > maxDepth {
            return "is \(components.count) directories deep; trees allows at most \(maxDepth)"
        }
        if let long = components.first(where: { $0.count > maxNameBytes }) {
            return "has a name component of \(long.count) bytes; trees allows at most \(maxNameBytes)"
        }
        let bytes = components.reduce(components.count - 1) { $0 + $1.count }
        if bytes > maxPathBytes {
            return "is a path of \(bytes) bytes; trees allows at most \(maxPathBytes)"
        }
        return nil
    }
}
