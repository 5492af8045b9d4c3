#if canImport(Glibc)
import Glibc
#endif

/// What a tree holds at a shared path: nothing yet, trees' own link to
/// `ROOT/NAME/shared/PATH`, content of its own, or a parent that is not a
/// directory (a file or a symlink: never followed).
enum SharedOccupant: Equatable {
    case nothing
    case link
    /// Content at PATH (a file, a directory, another link); `empty` when it
    /// is an empty directory or an empty file.
    case content(kind: String, empty: Bool)
    case blocked(String)

    /// Walks `path` in `tree` without following a symlink or creating anything.
    static func find(_ path: SharedPath, in tree: Directory) throws -> SharedOccupant {
        var dir = tree
        var walked: [String] = []
        for component in path.components.dropLast() {
            walked.append(component)
            let st: stat
            do {
                st = try dir.status(component)
            } catch let e as TreesError where e.errno == .noSuchFileOrDirectory {
                return .nothing
            }
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                return .blocked("\(walked.joined(separator: "/")) is a \((st.st_mode & S_IFMT) == S_IFLNK ? "symlink" : "file"), not a directory")
            }
            dir = try dir.openDirectory(component)
        }
        guard let leaf = path.components.last else { return .nothing }
        let st: stat
        do {
            st = try dir.status(leaf)
        } catch let e as TreesError where e.errno == .noSuchFileOrDirectory {
            return .nothing
        }
        switch st.st_mode & S_IFMT {
        case S_IFLNK:
            return try dir.readLink(leaf) == path.linkTarget ? .link : .content(kind: "symlink", empty: false)
        case S_IFDIR:
            return .content(kind: "directory", empty: try dir.openDirectory(leaf).entries().isEmpty)
        case S_IFREG:
            return .content(kind: "file", empty: st.st_size == 0)
        default:
            return .content(kind: "special file", empty: false)
        }
    }
}
