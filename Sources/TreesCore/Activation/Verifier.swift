#if canImport(Glibc)
import Glibc
#endif

/// Checks a tree's content against the manifest recorded at install.
public struct Verifier {
    public let root: Root
    public let store: Store

    public init(root: Root, store: Store) {
        self.root = root
        self.store = store
    }

    /// Compares the tree as it is now (content, file types, every mode bit,
    /// owners) with the manifest recorded at install.
    /// - Returns: the differences, one line each, paths escaped (empty when intact).
    public func verify(_ ref: TreeRef, progress: ProgressHandler? = nil) throws -> [String] {
        guard let row = try store.tree(ref), [.ready, .condemned].contains(row.state) else {
            throw TreesError(.notFound, "no tree \(ref)")
        }
        guard let body = try store.manifest(treeID: row.id), let expected = Manifest.decode(body) else {
            throw TreesError(.database, "no manifest recorded for \(ref) in \(store.path)")
        }
        guard let nameDir = try root.treeParent(ref) else {
            return ["missing: \(root.treePath(ref))"]
        }
        let tree = try nameDir.openDirectory(ref.rev.value)
        let actual = try Manifest.build(of: tree, seal: false, progress: progress)
        let differences = expected.differences(to: actual)
        if differences.isEmpty && actual.digest != row.digest {
            return ["digest differs: \(actual.digest)"]
        }
        return differences
    }
}
