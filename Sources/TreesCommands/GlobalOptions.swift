import ArgumentParser
import TreesCore
#if canImport(Glibc)
import Glibc
#endif

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The root holding every tree (default: $TREES_ROOT, else /srv/trees).", valueName: "DIR"))
    var root: String?

    var location: String { Environment.rootLocation(option: root) }

    /// Opens the root if there is one (nil when nothing was ever installed),
    /// with the settings the environment gives.
    func openRoot() throws -> Root? {
        try Root.openExisting(location, settings: try Environment.settings())
    }

    /// Opens the root, creating it if missing (install).
    func createRoot() throws -> Root {
        try Root.create(location, settings: try Environment.settings())
    }

    /// Opens the existing root and its database for a command that only reads or changes records.
    func openExisting() throws -> (Root, Store) {
        guard let root = try openRoot() else {
            throw TreesError(.notFound, "no trees root at \(location)",
                             hint: "Install something first (trees install NAME@REV SOURCE), or pass --root / set TREES_ROOT.")
        }
        return (root, try root.openStore(create: true))
    }
}
