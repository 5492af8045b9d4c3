import ArgumentParser
import TreesCore
#if canImport(Glibc)
import Glibc
#endif

struct Shared: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shared",
        abstract: "Declare, list and forget the writable paths a code base keeps outside its trees.",
        discussion: """
            A shared path PATH of NAME lives at ROOT/NAME/shared/PATH, outside every tree, and is \
            never collected. Each tree installed after the declaration holds a relative symlink at \
            PATH to it (e.g. lib/x/log -> ../../../shared/lib/x/log), part of its manifest, so \
            verify passes; trees installed before keep working as they were. Jobs find it in \
            TREES_SHARED (ROOT/NAME/shared).

            add creates the path (a directory, or with --file an empty file) with --owner and \
            --mode, and records it; adding it again sets its owner, mode and --seed anew. A source \
            with content at PATH is refused by install (65), unless PATH was declared with --seed: \
            then that content is copied into ROOT/NAME/shared/PATH once, while it is empty, and the \
            tree gets the link. activate creates missing shared paths and sets their owners and \
            modes again, and refuses (75) when one is still missing or not writable by its owner.

            remove forgets the declaration only: new trees no longer get the link; the data and \
            the links in installed trees stay. Only trees remove NAME --purge-shared deletes \
            ROOT/NAME/shared.

            PATH is relative: no leading /, no empty, . or .. component, not starting with \
            current, shared or .trees, and neither inside another shared path of NAME nor holding \
            one. The operator only (giving a path to another --owner needs root). Exit status: \
            64 bad usage or --mode; 65 invalid PATH or owner, a nested path, or the current tree \
            holding content at PATH (without --seed) or a file where a directory of PATH must go, \
            nothing changed; 66 remove of an undeclared PATH; 1 not the operator.
            """)

    enum Action: String, ExpressibleByArgument, CaseIterable {
        case add, list, remove
    }

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The code base.", valueName: "NAME"))
    var name: String

    @Argument(help: ArgumentHelp("What to do with the shared paths of NAME.", valueName: "ACTION"))
    var action: Action

    @Argument(help: ArgumentHelp("The path inside each tree (add, remove), e.g. log or var/uploads.", valueName: "PATH"))
    var path: String?

    @Flag(help: "add: a file, not a directory.")
    var file = false

    @Option(help: ArgumentHelp("add: the job user that writes to it, as names or numbers (default: the operator).", valueName: "USER[:GROUP]"))
    var owner: String?

    @Option(help: ArgumentHelp("add: its permission bits, in octal (default: 0755 for a directory, 0644 for a file).", valueName: "MODE"))
    var mode: ModeArgument?

    @Flag(help: "add: copy a source's content at PATH into shared once, while it is empty, instead of refusing the source.")
    var seed = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        switch action {
        case .list:
            if path != nil { throw ValidationError("list takes no PATH") }
        case .add, .remove:
            if path == nil { throw ValidationError("\(action.rawValue) needs a PATH") }
        }
        if action != .add && (file || owner != nil || mode != nil || seed) {
            throw ValidationError("--file, --owner, --mode and --seed go with add only")
        }
    }

    struct Row: Encodable {
        let name: String
        let path: String
        let kind: String
        let location: String
        let uid: UInt32?
        let gid: UInt32?
        let mode: String
        let seed: Bool
        let ok: Bool
        let problems: [String]

        /// `uid:gid`, or `-` for the operator's.
        var owner: String {
            guard let uid, let gid else { return "-" }
            return "\(uid):\(gid)"
        }

        init(_ s: SharedPaths.Status) {
            let d = s.declaration
            name = d.name.value
            path = d.path.value
            kind = d.kind.rawValue
            location = s.location
            uid = d.uid
            gid = d.gid
            mode = octal(d.mode)
            seed = d.seed
            ok = s.problems.isEmpty
            problems = s.problems
        }
    }

    func run() throws {
        let name = try TreeName(name)
        let shared = try path.map(SharedPath.init)
        if action == .list {
            guard let root = try global.openRoot() else {
                if json { try printJSON([Row]()) }
                return
            }
            let rows = try SharedPaths(root: root, store: try root.openStoreForReading(create: true)).statuses(name).map(Row.init)
            if json { return try printJSON(rows) }
            printTable(["PATH", "KIND", "OWNER", "MODE", "SEED", "STATE"], rows.map {
                [$0.path, $0.kind, $0.owner, $0.mode, $0.seed ? "yes" : "no", $0.ok ? "ok" : $0.problems.joined(separator: "; ")]
            })
            return
        }
        guard let shared else { throw TreesError(.usage, "\(action.rawValue) needs a PATH") }
        let owner = try self.owner.map(SharedOwner.init(parsing:))
        // A path may be declared before the first install: add makes the root.
        let (root, store) = action == .add ? try { let r = try global.createRoot(); return (r, try r.openStore(create: true)) }()
            : try global.openExisting()
        try root.requireOperator("change shared paths")
        let paths = SharedPaths(root: root, store: store)
        if action == .remove {
            try paths.forget(name, shared)
            if json { try printJSON(["name": name.value, "path": shared.value, "removed": "declaration"]) } else {
                printLine("\(name): \(shared) is no longer shared; \(root.sharedPath(name))/\(shared) stays")
            }
            return
        }
        let status = try paths.declare(SharedDeclaration(
            name: name, path: shared, kind: file ? .file : .directory,
            uid: owner?.uid, gid: owner?.gid, mode: mode?.bits, seed: seed))
        if json { return try printJSON(Row(status)) }
        printLine(status.location)
    }
}

/// Permission bits in octal (`0750`, `750`), 0 to 07777; anything else is a usage error (64).
struct ModeArgument: ExpressibleByArgument, Sendable {
    let bits: mode_t

    init?(argument: String) {
        guard !argument.isEmpty, argument.count <= 5, argument.allSatisfy({ ("0"..."7").contains($0) }), let value = UInt32(argument, radix: 8), value <= 0o7777 else { return nil }
        bits = mode_t(value)
    }
}

/// `0755`: four octal digits.
func octal(_ mode: mode_t) -> String {
    let digits = String(mode & 0o7777, radix: 8)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}
