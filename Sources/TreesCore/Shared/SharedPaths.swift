#if canImport(Glibc)
import Glibc
#endif

/// `trees shared`: the writable paths of a code base, declared once and
/// kept at `ROOT/NAME/shared/PATH`, outside every tree. Install links each
/// into every new tree (`SharedLinker`), activate makes sure they are in
/// place (`prepare`), gc never touches them, and only `purge`
/// (`remove NAME --purge-shared`, beside the usage scan in Collection/)
/// deletes them.
///
/// Crash safety: a declaration is made on disk first and recorded after,
/// so the database never declares a path the disk lacks because of a
/// kill; a kill in between leaves an undeclared directory that the same
/// command, run again, adopts. Purge deletes the data first and forgets
/// the declarations after; a kill in between leaves declarations that the
/// next activate recreates empty, or that purge, run again, forgets.
public struct SharedPaths {
    public let root: Root
    public let store: Store

    public init(root: Root, store: Store) {
        self.root = root
        self.store = store
    }

    /// A declaration and how it stands on disk.
    public struct Status: Sendable {
        public let declaration: SharedDeclaration
        /// `ROOT/NAME/shared/PATH`.
        public let location: String
        /// Empty when it is in place, of its kind, owner and mode, and writable by its owner.
        public let problems: [String]
    }

    public func declarations(of name: TreeName) throws -> [SharedDeclaration] {
        try store.sharedDeclarations(of: name)
    }

    /// Declares `d`: refuses a path inside another declared path (or holding
    /// one), and a path at which the current tree holds content of its own
    /// (unless `d.seed`) or a file or symlink in place of a directory;
    /// creates it with its owner and mode; records it. Declaring the same
    /// path again replaces its owner, mode and seeding.
    /// - Throws: `.badInput` (65), nothing changed; a system error when the
    ///   owner cannot be given (only root may).
    @discardableResult
    public func declare(_ d: SharedDeclaration) throws -> Status {
        try store.serialized {
            for other in try store.sharedDeclarations(of: d.name) where other.path != d.path {
                if d.path.isWithin(other.path) || other.path.isWithin(d.path) {
                    throw TreesError(.badInput, "\(d.path) and the shared path \(other.path) of \(d.name) would nest",
                                     hint: "A shared path may not lie inside another; declare one of them only.")
                }
            }
            if let tree = try store.trees(name: d.name).last(where: { $0.state == .ready && $0.activatedAt != nil && $0.deactivatedAt == nil }),
               let nameDir = try root.treeParent(tree.ref) {
                try SharedPaths.refuseClash(d, tree: tree.ref, occupant: SharedOccupant.find(d.path, in: nameDir.openDirectory(tree.ref.rev.value)))
            }
            let area = SharedArea(root: root, name: d.name)
            try area.ensure(d)
            var recorded = d
            recorded.declaredAt = unixNow()
            try store.write { try store.saveShared(recorded) }
            return Status(declaration: recorded, location: "\(area.path)/\(d.path)", problems: try area.problems(d))
        }
    }

    /// Refuses what a tree holds at a shared path when no link may go there.
    /// - Throws: `.badInput` (65).
    static func refuseClash(_ d: SharedDeclaration, tree: TreeRef, occupant: SharedOccupant) throws {
        switch occupant {
        case .nothing, .link:
            return
        case .blocked(let why):
            throw TreesError(.badInput, "\(tree) cannot hold a link at the shared path \(d.path): \(why)",
                             hint: "Choose another path, or change the source so that \(d.path) can be a link.")
        case .content(let kind, _) where !d.seed:
            throw TreesError(.badInput, "\(tree) has a \(kind) of its own at the shared path \(d.path)",
                             hint: "Remove it from the source, or declare the path with --seed to copy it into \(d.name)/shared once.")
        case .content:
            return
        }
    }

    /// Every declaration of `name` with how it stands on disk.
    public func statuses(_ name: TreeName) throws -> [Status] {
        let area = SharedArea(root: root, name: name)
        return try store.sharedDeclarations(of: name).map {
            Status(declaration: $0, location: "\(area.path)/\($0.path)", problems: try area.problems($0))
        }
    }

    /// Forgets a declaration: new trees no longer get the link; the data
    /// and the links in installed trees stay.
    /// - Throws: `.notFound` (66) when it is not declared.
    public func forget(_ name: TreeName, _ path: SharedPath) throws {
        let found = try store.write { try store.forgetShared(name, path) }
        if !found { throw TreesError(.notFound, "\(path) is not a shared path of \(name)", hint: "See trees shared \(name) list.") }
    }

    /// Creates what is missing and gives each declared path its owner and
    /// mode, then refuses unless every one is in place and writable by its
    /// owner: activate runs this before it moves `current`.
    /// - Throws: `.temporary` (75) naming each path and what is wrong.
    public func prepare(_ name: TreeName) throws {
        let declarations = try store.sharedDeclarations(of: name)
        guard !declarations.isEmpty else { return }
        let area = SharedArea(root: root, name: name)
        var wrong: [String] = []
        for d in declarations {
            var problems: [String] = []
            do { try area.ensure(d) } catch let e as TreesError { problems.append(e.summary) }
            problems += try area.problems(d).filter { p in !problems.contains { $0.hasSuffix(p) } }
            if !problems.isEmpty { wrong.append("\(d.path): \(problems.joined(separator: "; "))") }
        }
        if !wrong.isEmpty {
            throw TreesError(.temporary, "shared paths of \(name) are not ready: \(wrong.joined(separator: ", "))",
                             hint: "Fix them (as root: trees shared \(name) add PATH again, or trees doctor --repair), then activate again; current was not changed.")
        }
    }
}
