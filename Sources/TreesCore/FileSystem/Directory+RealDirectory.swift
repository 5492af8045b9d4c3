#if canImport(Glibc)
import Glibc
#endif
import CTreesShim

/// Whether `name` inside `dir` is a real directory (not a symlink).
func isRealDirectory(_ dir: Directory, _ name: String) throws -> Bool {
    do {
        return (try dir.status(name).st_mode & S_IFMT) == S_IFDIR
    } catch let e as TreesError where e.errno == .noSuchFileOrDirectory {
        return false
    }
}
