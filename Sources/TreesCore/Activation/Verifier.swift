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
        guard let nameDir = try root.treeParent(ref) else {
            return ["missing: \(root.treePath(ref))"]
        }
        let tree = try nameDir.openDirectory(ref.rev.value)
        // The record and the tree are both read in path order and compared
        // pair by pair: nothing per file is held, whatever the tree's size.
        var walker = Walker(pass: .record, device: try tree.status().st_dev, progress: progress)
        let actualDigest = try ManifestWriter(scratch: nil)
        var actual = try walker.next(tree)
        func takeActual() throws {
            if let a = actual { try actualDigest.append(a) }
            actual = try walker.next(tree)
        }
        var decoder = ManifestDecoder()
        var diff: ManifestDiff?
        let recorded: Bool
        do {
            recorded = try store.readManifest(treeID: row.id) { piece in
                try decoder.feed(piece) { e in
                    // Only format 2 records owners.
                    if diff == nil { diff = ManifestDiff(format: e.uid != nil ? 2 : 1) }
                    while let a = actual, compareBytes(a.path, e.path) < 0 {
                        diff?.compare(nil, a)
                        try takeActual()
                    }
                    if let a = actual, a.path == e.path {
                        diff?.compare(e, a)
                        try takeActual()
                    } else {
                        diff?.removed(e)
                    }
                }
            }
        } catch is ManifestDecoder.Malformed {
            throw TreesError(.database, "the manifest recorded for \(ref) in \(store.path) is damaged",
                             hint: "Run `trees doctor`.")
        }
        guard recorded, let format = decoder.finish() else {
            throw TreesError(.database, "no manifest recorded for \(ref) in \(store.path)")
        }
        var rest = diff ?? ManifestDiff(format: format)
        while let a = actual {
            rest.compare(nil, a)
            try takeActual()
        }
        let differences = rest.lines
        let digest = try actualDigest.finish().digest
        if differences.isEmpty && digest != row.digest {
            return ["digest differs: \(digest)"]
        }
        return differences
    }
}
