import ArgumentParser
import TreesCore
#if canImport(Glibc)
import Glibc
#endif

/// Options every command takes, before the subcommand (`trees --root DIR list`,
/// as with `git -C` or `systemctl --root`) or after it (`trees list --root DIR`).
/// The root command declares this same group, and argument-parser decodes a
/// value given at either place into every command of the path; when both are
/// given, the later one wins.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The root holding every tree (default: $TREES_ROOT, else /srv/trees).", valueName: "DIR"))
    var root: String?

    @Option(name: .long, help: ArgumentHelp(
        "After install, activate, rollback and gc, rewrite this node_exporter textfile (default: $TREES_METRICS_TEXTFILE).",
        valueName: "PATH"))
    var metricsTextfile: String?

    @Flag(name: .shortAndLong, help: "Show no progress on the terminal.")
    var quiet = false

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

    /// `--metrics-textfile`, else `TREES_METRICS_TEXTFILE`; nil when neither is set.
    var metricsTextfilePath: String? {
        metricsTextfile ?? Environment.value("TREES_METRICS_TEXTFILE")
    }

    /// Opens the existing root and its database for a command that only reads or changes records.
    func openExisting(forReading: Bool = false) throws -> (Root, Store) {
        guard let root = try openRoot() else {
            throw TreesError(.notFound, "no trees root at \(location)",
                             hint: "Install something first (trees install NAME@REV SOURCE), or pass --root / set TREES_ROOT.")
        }
        return (root, try forReading ? root.openStoreForReading(create: true) : root.openStore(create: true))
    }

    /// Progress for long work, on stderr when it is a terminal and --quiet is not given.
    func progress() -> TerminalProgress { TerminalProgress(enabled: !quiet && isatty(2) == 1) }
}
