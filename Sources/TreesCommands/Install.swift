import ArgumentParser
import TreesCore

struct Install: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Install a revision from a directory, an archive or a git repository.",
        discussion: """
            SOURCE is a directory (copied; symlinks stay symlinks), an archive ending in \
            .tar, .tar.gz, .tgz, .tar.xz or .tar.zst (extracted with strict member checks), \
            or with --git-ref a git repository path or URL exported at REF.

            The tree is built under ROOT/.trees/staging, made read-only, fsynced and \
            digested, then renamed into ROOT/NAME/REV in one step; its path is printed. \
            Installing NAME@REV again with the same content succeeds and changes nothing; \
            with different content it fails with status 65.

            A file of a directory SOURCE whose content (SHA-256), mode and owner match \
            a file of one of the three newest ready revisions of NAME becomes a hard link \
            to it; --no-dedup copies. Read-only modes do not stop root, so the installed \
            file is read again first and linked only if it still hashes to the source's \
            SHA-256: a file changed in place since it was installed is never linked (the \
            new tree gets a copy of its source; trees verify reports the changed tree). \
            `trees list --usage` shows each tree's own and shared bytes.

            --drain PROTOCOL keeps how this release's processes are told to finish with \
            the tree (SIG[@[+]DURATION],…, e.g. 'TSTP,TERM@2h'): trees drain uses it when \
            it is given no --signal. A bad protocol is refused (65) before anything is written.

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

    @Flag(help: "Copy every file, even one whose content, mode and owner match a file of an installed revision of NAME (by default such a file is a hard link to it).")
    var noDedup = false

    @Option(help: ArgumentHelp("How trees drain tells this release's processes to finish, e.g. 'TSTP,TERM@2h' (kept with the tree).",
                               valueName: "PROTOCOL"))
    var drain: String?

    func run() throws {
        // Validate everything before anything is written.
        let ref = try TreeRef(parsing: tree)
        let drainProtocol = try drain.map(DrainProtocol.init(parsing:))
        let kind = try Source.classify(source, gitRef: gitRef)
        let root = try global.createRoot()
        let store = try root.openStore(create: true)
        let progress = global.progress()
        let installer = Installer(root: root, store: store, progress: progress.handler)
        let result: InstallResult
        do {
            result = try installer.install(ref, from: kind, dedup: !noDedup)
            progress.finish()
        } catch {
            progress.finish()
            throw error
        }
        if let drainProtocol {
            try Installer(root: root, store: store).keepDrainProtocol(drainProtocol, for: ref)
        }
        if activate {
            try Activation(root: root, store: store).activate(ref)
        }
        printLine(result.path)
        global.refreshMetrics()
    }
}
