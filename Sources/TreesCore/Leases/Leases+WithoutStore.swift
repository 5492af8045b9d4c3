#if canImport(Glibc)
import Glibc
#endif

extension Leases {
    /// Resolves a selector from the disk alone, for a caller without database access.
    static func resolveWithoutStore(_ selector: TreeSelector, root: Root) throws -> TreeRef {
        let ref = try resolve(selector, root: root)
        guard let nameDir = try root.nameDirectory(ref.name), try isRealDirectory(nameDir, ref.rev.value) else {
            throw TreesError(.notFound, "no tree \(ref)")
        }
        return ref
    }
}
