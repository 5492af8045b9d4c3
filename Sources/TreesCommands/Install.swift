import ArgumentParser
import TreesCore

struct Install: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Install a revision from a directory, an archive or a git repository.",
        discussion: """
            SOURCE is a directory (copied; symlinks stay symlinks), an archive ending in \
            .tar, .tar.gz, .tgz, .tar.xz or .tar.zst (extracted with strict member checks), \
            or with --git-ref a git repository path or URL exported at REF.

            The tree is built under ROOT/.trees/staging, made read-only, fsynced and \
            digested, then renamed into ROOT/NAME/REV in one step; its path is printed. \
            Installing NAME@REV again with the same content succeeds and changes nothing; \
            with different content it fails with status 65.

            \(exitStatusHelp)
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The tree to install.", valueName: "NAME@REV"))
    var tree: String

    @Argument(help: ArgumentHelp("A directory, a tar archive, or (with --git-ref) a git repository.", valueName: "SOURCE"))
    var source: String

    @Option(name: .long, help: ArgumentHelp("Export this branch, tag or commit of the git repository SOURCE.", valueName: "REF"))
    var gitRef: String?

    @Flag(help: "Make it current once installed.")
    var activate = false

    func run() throws {
        // Validate everything before anything is written.
        let ref = try TreeRef(parsing: tree)
        let kind = try Source.classify(source, gitRef: gitRef)
        let root = try Root.create(global.location)
        let store = try root.openStore(create: true)
        let progress = TerminalProgress()
        let installer = Installer(root: root, store: store, progress: progress.handler)
        let result: InstallResult
        do {
            result = try installer.install(ref, from: kind)
            progress.finish()
        } catch {
            progress.finish()
            throw error
        }
        if activate {
            try Activation(root: root, store: store).activate(ref)
        }
        print(result.path)
    }
}

struct Activate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make an installed revision current.",
        discussion: "Points ROOT/NAME/current at REV with one rename(2) of a fresh relative symlink.\n\n\(exitStatusHelp)")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The tree to make current.", valueName: "NAME@REV"))
    var tree: String

    func run() throws {
        let ref = try TreeRef(parsing: tree)
        let (root, store) = try global.openExisting()
        try Activation(root: root, store: store).activate(ref)
        print(root.treePath(ref))
    }
}

struct Rollback: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make the revision that was current before the present one current again.",
        discussion: "Exits 66 when there is no previous revision, or it is no longer installed.\n\n\(exitStatusHelp)")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The code base to roll back.", valueName: "NAME"))
    var name: String

    func run() throws {
        let name = try TreeName(self.name)
        let (root, store) = try global.openExisting()
        let ref = try Activation(root: root, store: store).rollback(name)
        print(root.treePath(ref))
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that a tree still holds exactly what was installed.",
        discussion: "Recomputes the content digest. Exits 0 when intact, 65 listing the differing paths when modified.\n\n\(exitStatusHelp)")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The tree to verify.", valueName: "NAME@REV"))
    var tree: String

    @Flag(help: "Print the result as JSON.")
    var json = false

    struct Report: Encodable {
        let tree: String
        let intact: Bool
        let differences: [String]
    }

    func run() throws {
        let ref = try TreeRef(parsing: tree)
        let (root, store) = try global.openExisting()
        let progress = TerminalProgress()
        let differences = try Verifier(root: root, store: store).verify(ref, progress: progress.handler)
        progress.finish()
        if json {
            try printJSON(Report(tree: ref.description, intact: differences.isEmpty, differences: differences))
        } else if differences.isEmpty {
            print("\(ref): intact")
        } else {
            print("\(ref): modified")
            for d in differences { print("  \(d)") }
        }
        if !differences.isEmpty { throw CommandFailure(status: 65) }
    }
}
