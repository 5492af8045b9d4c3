#if canImport(Glibc)
import Glibc
#endif

/// `remove NAME --purge-shared`: here, beside the usage scan it needs, so
/// that Shared/ stays below Collection/ (folders depend one way).
extension SharedPaths {
    /// Deletes `ROOT/NAME/shared` and forgets every declaration of NAME,
    /// unless something runs from a tree of NAME (by lease or `/proc`) or a
    /// process cannot be inspected (fail closed). Links in installed trees
    /// are left dangling (doctor reports them) until those trees go.
    /// - Returns: the bytes freed.
    /// - Throws: `.temporary` (75) while in use, nothing deleted.
    public func purge(_ name: TreeName, scanner: UsageScanner) throws -> Int64 {
        let report = try scanner.scan()
        let users = report.holders.filter { $0.tree.name == name }
        if !users.isEmpty || !report.unknown.isEmpty {
            let who = users.map { "pid \($0.pid) (\($0.tree))" } + report.unknown.map { "pid \($0.pid) (unknown)" }
            throw TreesError(.temporary, "\(name) is in use, its shared paths were not deleted: \(who.prefix(10).joined(separator: ", "))",
                             hint: "Wait for those jobs to finish (trees wait NAME@REV), then try again.")
        }
        var freed: Int64 = 0
        if let nameDir = try root.nameDirectory(name), try SharedArea(root: root, name: name).open(create: false) != nil {
            var remover = Remover(device: try nameDir.status().st_dev)
            guard try remover.remove(Array("shared".utf8), in: nameDir) else {
                throw TreesError(.temporary, "\(root.sharedPath(name)) holds a mount point, which was left with what it holds",
                                 hint: "Unmount it, then run the command again.")
            }
            try nameDir.sync()
            freed = remover.bytesFreed
        }
        try store.write { try store.forgetAllShared(name) }
        return freed
    }
}
