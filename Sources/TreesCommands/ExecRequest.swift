import TreesCore
#if canImport(Glibc)
import Glibc
#endif

/// What `trees exec` was asked to do, and doing it: one piece of code for
/// both ways in (`Exec.run` after argument-parser, and the fast path).
///
/// `trees exec` starts once per job. In a profile of the release build,
/// argument-parser took about 80% of exec's own CPU time (reflecting over
/// every property wrapper, resolving types by mangled name, scanning protocol
/// conformances, and building the root's argument set to look for a
/// completion-script request). `init?(fastParsing:)` reads the plain forms of
/// exec's arguments directly; anything else — help, a typo, a repeated or
/// unknown option, a missing command — returns nil, and argument-parser
/// parses the line and reports it exactly as before.
struct ExecRequest {
    var rootOption: String?
    var tree: String
    var noChdir = false
    var requireLease = false
    var cgroup = false
    var cgroupParent: String?
    var command: [String]

    init(rootOption: String?, tree: String, noChdir: Bool, requireLease: Bool, cgroup: Bool,
         cgroupParent: String?, command: [String]) {
        self.rootOption = rootOption
        self.tree = tree
        self.noChdir = noChdir
        self.requireLease = requireLease
        self.cgroup = cgroup
        self.cgroupParent = cgroupParent
        self.command = command
    }

    /// `exec [--root DIR] NAME[@REV] [--no-chdir] [--require-lease] [--cgroup]
    /// [--cgroup-parent PATH] -- CMD...`, each option at most once, in any order.
    init?(fastParsing arguments: [String]) {
        guard arguments.first == "exec", let terminator = arguments.firstIndex(of: "--") else { return nil }
        let options = arguments[1..<terminator]
        command = Array(arguments[(terminator + 1)...])
        guard !command.isEmpty else { return nil }
        var tree: String?
        var seen = Set<String>()
        var i = options.startIndex
        while i < options.endIndex {
            var word = options[i]
            var inlineValue: String?
            if word.hasPrefix("--"), let eq = word.firstIndex(of: "=") {
                inlineValue = String(word[word.index(after: eq)...])
                word = String(word[..<eq])
            }
            if word.hasPrefix("-") && !seen.insert(word).inserted { return nil }
            switch word {
            case "--no-chdir", "--require-lease", "--cgroup":
                if inlineValue != nil { return nil }
                if word == "--no-chdir" { noChdir = true } else if word == "--cgroup" { cgroup = true } else { requireLease = true }
            case "--root", "--cgroup-parent":
                let value: String
                if let inlineValue { value = inlineValue } else {
                    i += 1
                    guard i < options.endIndex, !options[i].hasPrefix("-") else { return nil }
                    value = options[i]
                }
                if word == "--root" { rootOption = value } else { cgroupParent = value }
            default:
                guard !word.hasPrefix("-"), tree == nil else { return nil }
                tree = word
            }
            i += 1
        }
        guard let tree, cgroupParent == nil || cgroup else { return nil }
        self.tree = tree
    }

    /// Takes the lease and executes the command; returns only by throwing.
    func run() throws -> Never {
        let selector = try TreeSelector(parsing: tree)
        let location = Environment.rootLocation(option: rootOption)
        guard let root = try Root.openExisting(location, settings: try Environment.settings()) else {
            throw TreesError(.notFound, "no trees root at \(location)")
        }
        let launcher = JobLauncher(root: root)
        let plan = try launcher.prepare(selector, requireLease: requireLease, command: command.joined(separator: " "),
                                        cgroup: cgroup ? CgroupRequest(parent: cgroupParent) : nil)
        if let warning = plan.warning { printWarning(warning) }
        // Only returns when exec failed (the lease is already given back).
        throw launcher.exec(plan, command: command, changeDirectory: !noChdir)
    }
}
