#if canImport(Glibc)
import Glibc
#endif

/// What the disk holds under a root, read without the database: every real
/// directory `ROOT/NAME/REV` with a valid NAME and REV, each name's `current`
/// link, and anything else trees would have left there (a `.current.new`
/// from a killed activate). The database is checked against this, never the
/// other way round: the disk is the truth about which trees exist.
struct DiskInventory {
    struct NameEntry {
        let name: TreeName
        var revs: [Rev] = []
        /// The rev `current` points at; nil when there is no link.
        var current: Rev?
        /// Why `current` could not be read as a rev (not a symlink, bad target).
        var currentProblem: String?
        /// Entries trees leaves only when killed (`.current.new`).
        var leftovers: [String] = []
        /// Trees a killed install or gc left between their two renames (`Transit`).
        var transits: [(rev: Rev, way: Transit)] = []
    }

    var names: [NameEntry] = []

    var trees: [TreeRef] { names.flatMap { entry in entry.revs.map { TreeRef(name: entry.name, rev: $0) } } }

    /// Scans `ROOT/*/*`. Entries that are not valid names or revs are not
    /// trees and are left alone (the root may hold other things).
    static func scan(_ root: Root) throws -> DiskInventory {
        var inventory = DiskInventory()
        for top in try root.dir.entries().sorted(by: { $0.name.lexicographicallyPrecedes($1.name) }) {
            guard let name = try? TreeName(top.name.display), top.name.display != ".trees",
                  let nameDir = try? root.nameDirectory(name) else { continue }
            var entry = NameEntry(name: name)
            for child in try nameDir.entries() {
                let text = child.name.display
                if text == ".current.new" { entry.leftovers.append(text); continue }
                if let (rev, way) = Transit.parse(text), (try? isRealDirectory(nameDir, text)) == true {
                    entry.transits.append((rev, way))
                    continue
                }
                guard text != "current", Rev.isValid(text), let rev = try? Rev(text),
                      (try? isRealDirectory(nameDir, text)) == true else { continue }
                entry.revs.append(rev)
            }
            entry.revs.sort { $0.value < $1.value }
            do {
                entry.current = try Root.currentRev(in: nameDir)
            } catch let e as TreesError {
                entry.currentProblem = e.message
            }
            inventory.names.append(entry)
        }
        return inventory
    }

    /// Whether any tree is installed on disk (or in transit to or from its
    /// place); a failure to read counts as yes, so that a database is never
    /// created beside trees it cannot see.
    static func hasTrees(_ root: Root) -> Bool {
        guard let inventory = try? scan(root) else { return true }
        return !inventory.trees.isEmpty || inventory.names.contains { !$0.transits.isEmpty }
    }
}
