#if canImport(Glibc)
import Glibc
#endif

/// Maps directories to trees by identity, for one scan.
///
/// The disk is the truth: each tree's top directory `ROOT/NAME/REV` is
/// `fstatat`-ed through the root's descriptor when the scan starts, so no
/// schema records inodes. A directory is in a tree when it *is* a tree top
/// or walking up from it with `..` reaches one. The walk leaves as soon as
/// it reaches a device no tree lives on, and every directory it passes is
/// remembered, so each is paid for once per scan.
final class TreeLocator {
    /// The root directory itself, to recognise `TREES_ROOT` however spelled.
    let root: FileIdentity?
    private var tops: [FileIdentity: TreeRef] = [:]
    private var devices: Set<UInt64> = []
    /// Directories already walked, and the tree (or none) above them.
    private var walked: [FileIdentity: TreeRef?] = [:]
    /// Paths already resolved, keyed by the process's view and the spelling:
    /// in one view the same spelling names the same directory, so most
    /// processes cost a lookup here and no system call.
    private var resolved: [ViewPath: TreeRef?] = [:]
    /// Each distinct view (mount namespace and root) as a small number, so
    /// a cache key is built without copying bytes.
    private var views: [[UInt8]: Int] = [:]
    private static let maximumDepth = 1024

    /// Whether any tree exists to look for; a fake proc root's trees root
    /// does not, and then only the path pass runs.
    var isActive: Bool { !tops.isEmpty }

    /// Reads every `ROOT/NAME/REV` directory's identity. A root that cannot
    /// be opened yields an inactive locator (the path pass still runs).
    init(rootPath: String) {
        guard let dir = try? Directory.open(rootPath), let rootID = FileIdentity(fd: dir.fd) else {
            root = nil
            return
        }
        root = rootID
        devices.insert(rootID.device)
        for entry in (try? dir.entries()) ?? [] {
            let nameText = entry.name.display
            guard TreeName.isValid(nameText), let name = try? TreeName(nameText),
                  let names = try? dir.openDirectory(entry.name) else { continue }
            for revEntry in (try? names.entries()) ?? [] {
                let revText = revEntry.name.display
                guard revText != "current", Rev.isValid(revText), let rev = try? Rev(revText),
                      let top = FileIdentity(at: names.fd, revText) else { continue }
                tops[top] = TreeRef(name: name, rev: rev)
                devices.insert(top.device)
            }
        }
    }

    /// The tree holding the directory open at `fd` (an `O_PATH` descriptor
    /// this call closes), walking up with `openat(fd, "..")`.
    func tree(walkingUpFrom start: Int32) -> TreeRef? {
        var fd = start
        var passed: [FileIdentity] = []
        var found: TreeRef?
        for _ in 0..<TreeLocator.maximumDepth {
            guard let here = FileIdentity(fd: fd), here != passed.last else { break }
            if let top = tops[here] { found = top; break }
            if let known = walked[here] { found = known; break }
            passed.append(here)
            // Above a directory on a device without trees there can still be
            // a tree (a mount inside one), but no path string spells a file
            // there without also spelling the tree, so the path pass has it.
            guard devices.contains(here.device) else { break }
            let parent = openat(fd, "..", openPathFlag | O_DIRECTORY | O_CLOEXEC)
            close(fd)
            fd = parent
            guard fd >= 0 else { break }
        }
        if fd >= 0 { close(fd) }
        for directory in passed { walked[directory] = found }
        return found
    }

    /// The cached answer for a spelling in a view, if it was resolved before.
    func cached(_ key: ViewPath) -> TreeRef?? { resolved[key] }

    func remember(_ key: ViewPath, _ tree: TreeRef?) { resolved[key] = tree }

    /// The number standing for a view in cache keys.
    func view(_ key: [UInt8]) -> Int {
        if let known = views[key] { return known }
        views[key] = views.count
        return views.count - 1
    }
}

/// A path as spelled in one view. The slice may point into a process's
/// environment or maps text; it is kept only for the scan.
struct ViewPath: Hashable {
    var view: Int
    var path: ArraySlice<UInt8>
}
