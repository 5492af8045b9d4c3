import ArgumentParser
import TreesCore
#if canImport(Glibc)
import Glibc
#endif

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The root holding every tree (default: $TREES_ROOT, else /srv/trees).", valueName: "DIR"))
    var root: String?

    var location: String { Root.location(option: root) }

    /// Opens the existing root and its database for a command that only reads or changes records.
    func openExisting(forReading: Bool = false) throws -> (Root, Store) {
        guard let root = try Root.openExisting(location) else {
            throw TreesError(.notFound, "no trees root at \(location)",
                             hint: "Install something first (trees install NAME@REV SOURCE), or pass --root / set TREES_ROOT.")
        }
        return (root, try forReading ? root.openStoreForReading(create: true) : root.openStore(create: true))
    }
}
