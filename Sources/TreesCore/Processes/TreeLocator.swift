#if canImport(Glibc)
import Glibc
#endif
import CTreesShim

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
    /// The root as given, to open trees for a search by inode.
    let rootPath: String
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
    /// Where the root lies within its filesystem (mountinfo device and
    /// path from the filesystem's top), to recognise mounts of a part of a
    /// tree; nil when that cannot be told.
    private var rootInFilesystem: (device: UInt64, path: [UInt8])?
    private var trees: Set<TreeRef> = []
    /// Mounts (by mount id, unique across namespaces) whose root lies
    /// inside a tree: everything reached through one is in that tree.
    private var mountTrees: [UInt64: TreeRef] = [:]
    /// Every mount id in a table read this scan: a walk that ends at the
    /// root of any other mount was reached through a detached one.
    private var knownMounts: Set<UInt64> = []
    /// Each view's mount table, and whether it has mounts of a part of a tree.
    private var viewTables: [Int: [MountEntry]] = [:]
    private var viewsWithMountsOfTrees: [Int: Bool] = [:]

    /// Cleared when `openat2(2)` turns out missing (ENOSYS), so that the
    /// rest of the scan does not try it again.
    var hasOpenat2 = true

    /// Whether any tree exists to look for; a fake proc root's trees root
    /// does not, and then only the path pass runs.
    var isActive: Bool { !tops.isEmpty }

    /// Reads every `ROOT/NAME/REV` directory's identity. A root that cannot
    /// be opened yields an inactive locator (the path pass still runs).
    /// - Parameter ownMountInfo: the scanner's `self/mountinfo`, to place
    ///   the root within its filesystem; without it mounts of a part of a
    ///   tree are not recognised.
    init(rootPath: String, ownMountInfo: [UInt8]? = nil) {
        self.rootPath = rootPath
        guard let dir = try? Directory.open(rootPath), let rootFile = MountedFile(fd: dir.fd) else {
            root = nil
            return
        }
        let rootID = rootFile.identity
        root = rootID
        if let ownMountInfo, let mountID = rootFile.mountID, let real = canonicalPath(rootPath),
           let mount = MountTable.entries(ownMountInfo).first(where: { $0.id == mountID }),
           let below = MountTable.relative(Array(real.utf8), below: mount.mountPoint) {
            var path = mount.root
            if !below.isEmpty { path = (path == [ProcBytes.slash] ? [] : path) + [ProcBytes.slash] + below }
            rootInFilesystem = (mount.device, path)
        }
        ownTable = ownMountInfo.map(MountTable.entries) ?? []
        for mount in ownTable { knownMounts.insert(mount.id) }
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
                trees.insert(TreeRef(name: name, rev: rev))
                devices.insert(top.device)
            }
        }
    }

    /// Another locator for the same scan with the same trees and empty
    /// caches, for a second worker: caches are per worker, never shared,
    /// so no lock is taken on the hot path.
    func forWorker() -> TreeLocator { TreeLocator(copying: self) }

    private init(copying other: TreeLocator) {
        root = other.root
        rootPath = other.rootPath
        knownMounts = other.knownMounts
        ownTable = other.ownTable
        tops = other.tops
        devices = other.devices
        rootInFilesystem = other.rootInFilesystem
        trees = other.trees
        hasOpenat2 = other.hasOpenat2
    }

    /// The tree holding the directory open at `fd` (an `O_PATH` descriptor
    /// this call closes), walking up with `openat(fd, "..")`; nil also when
    /// only a search could tell (see `place(directory:)`).
    func tree(walkingUpFrom start: Int32) -> TreeRef? {
        if case .tree(let tree) = place(directory: start) { return tree }
        return nil
    }

    /// The tree (or none) a directory was found in earlier in this scan, by
    /// identity alone; nil when it was not placed yet.
    func placed(directory identity: FileIdentity) -> TreeRef?? {
        if let top = tops[identity] { return .some(top) }
        return walked[identity]
    }

    /// Where the directory open at `fd` (an `O_PATH` descriptor this call
    /// closes) lies, walking up with `openat(fd, "..")` until a tree's top,
    /// a mount of a part of a tree, or a device without trees. A walk that
    /// ends at a root (`..` is itself) of a mount no table shows (one
    /// detached with `umount -l`, or made by `open_tree`) may have started
    /// anywhere, inside a tree too: its place is left to a search by inode.
    func place(directory start: Int32) -> Placement {
        var fd = start
        var passed: [FileIdentity] = []
        var found: TreeRef?
        var unplaced: FileIdentity?
        for _ in 0..<TreeLocator.maximumDepth {
            guard let file = MountedFile(fd: fd) else { break }
            let here = file.identity
            if here == passed.last {
                if file.mountID.map({ !knownMounts.contains($0) }) ?? true { unplaced = here }
                break
            }
            if let top = tops[here] { found = top; break }
            if let known = walked[here] { found = known; break }
            // Reached through a mount of a part of a tree: `..` from the
            // mount's root would leave the tree, but all it shows is inside.
            if let mount = file.mountID, let tree = mountTrees[mount] {
                found = tree
                passed.append(here)
                break
            }
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
        if found == nil, let unplaced { return .search(unplaced) }
        for directory in passed { walked[directory] = found }
        return .tree(found)
    }

    /// Every tree on disk when the scan started.
    var allTrees: Set<TreeRef> { trees }

    /// Mount namespaces seen so far: the first sight of one is when its
    /// mounts are checked for holding trees.
    private var namespacesSeen: Set<[UInt8]> = []

    /// True the first time a namespace is seen by this locator.
    func firstSight(ofNamespace namespace: [UInt8]) -> Bool { namespacesSeen.insert(namespace).inserted }

    /// Whether any tree lives on `device` (as `st_dev` gives it).
    func hasTrees(onDevice device: UInt64) -> Bool { devices.contains(device) }

    /// The tree holding the file open at `fd` (an `O_PATH` descriptor this
    /// call closes) when it was reached through a mount of a part of a tree,
    /// as a single file bind-mounted elsewhere is.
    func tree(ofMountedFile fd: Int32) -> TreeRef? {
        defer { close(fd) }
        guard let mount = MountedFile(fd: fd)?.mountID else { return nil }
        return mountTrees[mount]
    }

    /// Reads a view's mount table once per scan (`read` gives its
    /// mountinfo, whose mount points are spelled as that view spells
    /// paths), remembers every mount id in it and the mounts whose root lies
    /// inside a tree. Returns the table, or nil when it cannot be read.
    func learnMounts(ofView view: Int, read: () -> [UInt8]?) -> [MountEntry]? {
        if let known = viewTables[view] { return known }
        guard let text = read() else { return nil }
        let table = MountTable.entries(text)
        var any = false
        for mount in table {
            knownMounts.insert(mount.id)
            if let tree = tree(ofMountRoot: mount) {
                mountTrees[mount.id] = tree
                any = true
            }
        }
        viewTables[view] = table
        viewsWithMountsOfTrees[view] = any
        return table
    }

    /// Whether a view's table has a mount of a part of a tree (then a file
    /// outside every tree is checked for being such a mount itself).
    func seesMountsOfTrees(inView view: Int) -> Bool { viewsWithMountsOfTrees[view] ?? false }

    /// The tree a mount's root lies in, by the mountinfo root field: a bind
    /// mount of `ROOT/app/r1/lib` has root `.../app/r1/lib` wherever it is
    /// mounted and in whichever namespace.
    func tree(ofMountRoot mount: MountEntry) -> TreeRef? {
        guard let location = rootInFilesystem, mount.device == location.device,
              let below = MountTable.relative(mount.root, below: location.path) else { return nil }
        let parts = below.split(separator: ProcBytes.slash, maxSplits: 2)
        guard parts.count >= 2, let name = try? TreeName(String(decoding: parts[0], as: UTF8.self)),
              let rev = try? Rev(String(decoding: parts[1], as: UTF8.self)) else { return nil }
        let tree = TreeRef(name: name, rev: rev)
        return trees.contains(tree) ? tree : nil
    }

    /// Whether a path a view spells may be opened: only when the mount it
    /// lands on (the deepest mount point above it in the view's table) is
    /// on a device where trees live. A FUSE or network file system, or
    /// anything else that is not the root's, is never walked into, so a
    /// stalled daemon or server cannot block the scan; no path on one can
    /// name a tree but through a symlink there, which is not followed.
    /// True when the view's table is not known (the scan's deadline still
    /// bounds the open).
    func mayOpen(_ path: ArraySlice<UInt8>, inView view: Int) -> Bool {
        guard let table = viewTables[view] else { return true }
        return mayOpen(path, table: table)
    }

    private func mayOpen(_ path: ArraySlice<UInt8>, table: [MountEntry]) -> Bool {
        guard !table.isEmpty else { return true }
        var best: MountEntry?
        for mount in table {
            guard MountTable.relative(Array(path), below: mount.mountPoint) != nil else { continue }
            if best == nil || mount.mountPoint.count >= best!.mountPoint.count { best = mount }
        }
        guard let best else { return true }
        return devices.contains(best.deviceNumber)
    }

    /// Environments already read: the trees each names (`EnvironmentKey`).
    private var environments: [EnvironmentKey: [TreeRef]] = [:]

    func cachedEnvironment(_ key: EnvironmentKey) -> [TreeRef]? { environments[key] }

    func rememberEnvironment(_ key: EnvironmentKey, _ trees: [TreeRef]) {
        // A bound on memory for a host of ten thousand distinct environments.
        if environments.count < 4096 { environments[key] = trees }
    }

    /// Identities of spelled file paths, per view (`ProcessView.place`).
    private var spelledIdentities: [ViewPath: FileIdentity?] = [:]

    func cachedIdentity(_ key: ViewPath) -> FileIdentity?? { spelledIdentities[key] }

    func rememberIdentity(_ key: ViewPath, _ identity: FileIdentity?) { spelledIdentities[key] = identity }

    /// The scanner's own mount table, to guard opens in its own view.
    private var ownTable: [MountEntry] = []

    /// `mayOpen` for the scanner's own view.
    func mayOpenInOwnView(_ path: ArraySlice<UInt8>) -> Bool { mayOpen(path, table: ownTable) }

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
    /// Asked about the file itself (a mounted file), not as a directory.
    var file = false

    /// The path's bytes hashed as one block: the synthesized hash fed them
    /// to the hasher one `UInt8` at a time, which was the busiest user-space
    /// function of `trees ps` (every word of every environment is looked up).
    func hash(into hasher: inout Hasher) {
        hasher.combine(view)
        hasher.combine(file)
        path.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

/// One process's whole environment block as seen from its view and working
/// directory (relative words resolve against it): the same key names the
/// same trees within one scan.
struct EnvironmentKey: Hashable {
    var view: Int
    var cwd: [UInt8]?
    var environ: [UInt8]

    func hash(into hasher: inout Hasher) {
        hasher.combine(view)
        cwd?.withUnsafeBytes { hasher.combine(bytes: $0) }
        environ.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
