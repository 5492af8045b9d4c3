import ArgumentParser
import TreesCore
#if canImport(Glibc)
import Glibc
#endif

/// The entry point: parse, run, and map every error to a documented exit status.
public enum TreesMain {
    public static func main(_ arguments: [String]? = nil) -> Never {
        do {
            var command = try Trees.parseAsRoot(arguments)
            try command.run()
            exit(0)
        } catch let error as TreesError {
            printError(error.description)
            exit(error.exitStatus)
        } catch let error as CommandFailure {
            exit(error.status)
        } catch {
            Trees.exit(withError: error)
        }
    }
}

/// Thrown after a command printed its own report and wants a given status
/// (for example `verify` listing differing paths, then exiting 65).
struct CommandFailure: Error {
    let status: Int32
}

func printError(_ message: String) {
    let lines = message.split(separator: "\n", omittingEmptySubsequences: false)
    var text = "trees: error: \(lines.first ?? "")\n"
    for line in lines.dropFirst() { text += "trees: hint: \(line)\n" }
    writeStandardError(text)
}

func printWarning(_ message: String) {
    writeStandardError("trees: warning: \(message)\n")
}

func writeStandardError(_ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
        if n <= 0 { if errno == EINTR { continue }; return }
        offset += n
    }
}

let exitStatusHelp = """
    EXIT STATUS:
      0   success
      1   unexpected failure, or a damaged or unusable state database
      64  usage error (bad option, bad DURATION)
      65  bad input: invalid NAME or REV, hostile or damaged archive,
          conflicting re-install, modified tree (verify)
      66  no such tree, source, git ref or previous revision
      75  temporary: busy, in use, timed out, or no space left; retry later
    """

struct Trees: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trees",
        abstract: "Install every revision side by side; delete an old one only when its last job has exited.",
        discussion: """
            Each revision NAME@REV lives at ROOT/NAME/REV, read-only; ROOT/NAME/current \
            points at the active one. State is kept in ROOT/.trees/state.db (SQLite).

            ENVIRONMENT:
              TREES_ROOT  the root when --root is not given (default /srv/trees)

            \(exitStatusHelp)
            """,
        version: "0.1.0",
        subcommands: [Install.self, Activate.self, Rollback.self, List.self, Verify.self,
                      Exec.self, LeaseCommand.self, Ps.self, Wait.self, GC.self, Pin.self, Unpin.self, Remove.self])
}

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The root holding every tree (default: $TREES_ROOT, else /srv/trees).", valueName: "DIR"))
    var root: String?

    var location: String { Root.location(option: root) }

    /// Opens the existing root and its database for a command that only reads or changes records.
    func openExisting() throws -> (Root, Store) {
        guard let root = try Root.openExisting(location) else {
            throw TreesError(.notFound, "no trees root at \(location)",
                             hint: "Install something first (trees install NAME@REV SOURCE), or pass --root / set TREES_ROOT.")
        }
        return (root, try root.openStore(create: true))
    }
}
