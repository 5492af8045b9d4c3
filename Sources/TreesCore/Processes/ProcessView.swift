#if canImport(Glibc)
import Glibc
#endif
import CTreesShim

/// One process (or thread) seen from inside: the paths it shows are
/// resolved in its own mount namespace and root (through `/proc/PID/root`
/// and `/proc/PID/cwd`), and what they resolve to is attributed to a tree
/// by device and inode. Bind mounts, a symlinked root and a container's
/// `-v` mounts all resolve to the same directories as `ROOT/NAME/REV`.
struct ProcessView {
    let files: any ProcessFiles
    let locator: TreeLocator
    /// The mount namespace and root the process sees, then a NUL: in one
    /// view the same spelling names the same file, so answers are shared.
    private let view: Int
    /// The view as a number, for caches keyed by what a process shows.
    var viewNumber: Int { view }
    /// The scanner's own view: there a path opens the same without going
    /// through the process, so a failed open may be remembered as well.
    let isOwnView: Bool
    /// The working directory as shown, for words relative to it.
    let cwd: [UInt8]?
    /// Whether the process's view has a mount of a part of a tree (read
    /// from its mountinfo once per view); only then is a file outside every
    /// tree checked for being such a mount itself.
    private let seesMountsOfTrees: Bool
    /// The mount namespace, for naming the mounts it holds.
    let mountNamespace: [UInt8]?
    /// `/proc/PID/root`, opened on first use, for `openat2`.
    private let rootDirectory: LazyDescriptor

    init(files: any ProcessFiles, locator: TreeLocator, mountNamespace: [UInt8]?, ownNamespace: [UInt8]?,
         rootShown: [UInt8]?, cwdShown: [UInt8]?, pid: Int32) {
        self.files = files
        self.locator = locator
        if let mountNamespace, let rootShown {
            view = locator.view(mountNamespace + [0] + rootShown)
            isOwnView = mountNamespace == ownNamespace && rootShown == [ProcBytes.slash]
        } else {
            // Its view cannot be told: share nothing with other processes.
            view = locator.view(Array("pid \(pid)".utf8))
            isOwnView = false
        }
        cwd = cwdShown
        rootDirectory = LazyDescriptor { [files] in files.openPath(Array("root".utf8), directory: true) }
        self.mountNamespace = mountNamespace
        if mountNamespace != nil {
            _ = locator.learnMounts(ofView: view) { try? files.read("mountinfo") }
            seesMountsOfTrees = locator.seesMountsOfTrees(inView: view)
        } else {
            seesMountsOfTrees = false
        }
    }

    /// Where a file or directory the process holds lies, found by what it
    /// *is* (`reference`: statx through the link), the spelling serving
    /// only as the hint of which path to check.
    ///
    /// - A reference on a device without trees is in none, and nothing more
    ///   is touched: a FUSE or network file is never asked about.
    /// - A directory is walked up from the reference itself (`link`).
    /// - A file unlinked everywhere is in no tree. Otherwise its spelling is
    ///   trusted only when the spelled path, opened in the process's view,
    ///   is that very inode; then the tree is the one the path is in. A
    ///   spelling that lies (the file was reached through a mount since
    ///   detached, or the path was mounted over) leaves the inode to a
    ///   search of every tree, which keeps each tree that links it.
    func place(_ reference: Reference, shown: ArraySlice<UInt8>?, link: String?, matcher: inout ProcPathMatcher) -> Placement {
        guard locator.hasTrees(onDevice: reference.identity.device) else { return .tree(nil) }
        if reference.isDirectory {
            // Most directories were placed before in this scan (every
            // process's root, a pool's shared cwd): no open, no walk.
            if let known = locator.placed(directory: reference.identity) { return .tree(known) }
            guard let link, let fd = files.openPath(Array(link.utf8), directory: true) else { return .search(reference.identity) }
            return locator.place(directory: fd)
        }
        if reference.links == 0 { return .tree(nil) }
        guard let shown, identity(ofSpelled: shown) == reference.identity else { return .search(reference.identity) }
        return .tree(matcher.tree(ofKernelPath: shown) ?? tree(ofFileShown: shown, link: link))
    }

    /// The identity of the file a path spells in this view, once per view
    /// and path; nil when it does not open (or may not be opened).
    private func identity(ofSpelled shown: ArraySlice<UInt8>) -> FileIdentity? {
        guard shown.first == ProcBytes.slash, ProcBytes.droppingDeletedSuffix(shown).count == shown.count else { return nil }
        let key = ViewPath(view: view, path: shown, file: true)
        if let known = locator.cachedIdentity(key) { return known }
        let fd = open(shown, directory: false)
        let identity = fd.flatMap { fd in
            defer { close(fd) }
            return MountedFile(fd: fd)?.identity
        }
        // A failure outside the scanner's own view may be this process's
        // exit; it is not remembered for others.
        if identity != nil || isOwnView { locator.rememberIdentity(key, identity) }
        return identity
    }

    /// What a link (`cwd`, `root`, `exe`, `fd/N`) whose path the kernel
    /// cannot spell (deeper than `PATH_MAX`: ENAMETOOLONG) holds, found by
    /// opening the link itself. A directory is walked up; a file is placed
    /// only by its mount (a mount of a part of a tree) or its device: on a
    /// device without trees it is in none. `.unknown` when that cannot be
    /// told, so gc still fails closed.
    func tree(ofUnspellableLink link: String) -> LinkTarget {
        guard let fd = files.openPath(Array(link.utf8), directory: false) else { return .unknown }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            close(fd)
            return .unknown
        }
        if st.st_mode & S_IFMT == S_IFDIR { return .tree(locator.tree(walkingUpFrom: fd)) }
        let device = UInt64(st.st_dev)
        if let tree = locator.tree(ofMountedFile: fd) { return .tree(tree) }
        return locator.hasTrees(onDevice: device) ? .unknown : .tree(nil)
    }

    /// The tree holding a file the kernel reported (`exe`, `fd/N`, a maps
    /// path), found from the directory that holds it, or from the file
    /// itself when it is a mount of a file of a tree. `link` (`exe`,
    /// `fd/N`) opens that very file, whatever its path now resolves to.
    func tree(ofFileShown shown: ArraySlice<UInt8>, link: String? = nil) -> TreeRef? {
        guard shown.first == ProcBytes.slash, ProcBytes.droppingDeletedSuffix(shown).count == shown.count,
              let slash = shown.lastIndex(of: ProcBytes.slash) else { return nil }
        if let tree = tree(ofDirectory: slash == shown.startIndex ? [ProcBytes.slash] : shown[..<slash]) { return tree }
        guard seesMountsOfTrees else { return nil }
        let key = ViewPath(view: view, path: shown, file: true)
        if link == nil, let known = locator.cached(key) { return known }
        let fd = link.flatMap { files.openPath(Array($0.utf8), directory: false) } ?? open(shown, directory: false)
        guard let fd else { return nil }
        let tree = locator.tree(ofMountedFile: fd)
        if link == nil { locator.remember(key, tree) }
        return tree
    }

    /// The trees a word of the command line or environment names, resolved
    /// as the process would: absolute in its root, relative to its cwd. A
    /// word names its directory if it is one, and its parent either way.
    func trees(ofWord word: ArraySlice<UInt8>) -> TreeRef? {
        guard word.count < Int(PATH_MAX), !word.contains(0) else { return nil }
        let path: ArraySlice<UInt8>
        if word.first == ProcBytes.slash {
            path = word
        } else {
            guard let cwd, cwd.first == ProcBytes.slash else { return nil }
            path = (cwd + [ProcBytes.slash] + word)[...]
        }
        if let tree = tree(ofDirectory: path) { return tree }
        guard let slash = path.lastIndex(of: ProcBytes.slash), slash > path.startIndex else { return nil }
        return tree(ofDirectory: path[..<slash])
    }

    /// The trees this view's mount namespace holds by its mounts: a bind
    /// mount of a part of a tree, or an overlay with a tree (or a directory
    /// in one) as a layer. Called once per namespace. Overlay layers are
    /// the paths given at mount time, spelled in the mounter's view: each is
    /// opened in the process's view, then in the scanner's. One that may
    /// lie on a device with trees yet opens in neither is returned as a
    /// reason to fail closed.
    func mountHolds(matcher: inout ProcPathMatcher) -> (holds: [KernelHold], unknown: [String]) {
        guard let table = locator.learnMounts(ofView: view, read: { nil }) else { return ([], []) }
        let namespace = mountNamespace.map { String(decoding: $0, as: UTF8.self) } ?? "?"
        func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
        var holds: [KernelHold] = [], unknown: [String] = []
        for mount in table {
            if let tree = locator.tree(ofMountRoot: mount) {
                holds.append(KernelHold(kind: .mount, tree: tree,
                                        holder: "mount of \(text(mount.root)) on \(text(mount.mountPoint)) in \(namespace)"))
            }
            for layer in mount.overlayLayers {
                let holder = "overlay on \(text(mount.mountPoint)) in \(namespace), layer \(text(layer))"
                guard let found = tree(ofLayer: layer[...], matcher: &matcher) else {
                    unknown.append(holder + ": cannot be found")
                    continue
                }
                if let tree = found { holds.append(KernelHold(kind: .mount, tree: tree, holder: holder)) }
            }
        }
        return (holds, unknown)
    }

    /// An overlay layer's tree (or none): by spelling, else opened in this
    /// view or the scanner's and walked up. Nil when it may lie on a device
    /// with trees but opens in neither view: a reason to fail closed.
    private func tree(ofLayer layer: ArraySlice<UInt8>, matcher: inout ProcPathMatcher) -> TreeRef?? {
        if let tree = matcher.tree(ofKernelPath: layer) { return .some(tree) }
        guard layer.first == ProcBytes.slash else { return nil }
        if let fd = open(layer, directory: true) { return .some(locator.tree(walkingUpFrom: fd)) }
        let allowedHere = locator.mayOpen(layer, inView: view)
        if locator.mayOpenInOwnView(layer) {
            guard let fd = openPathOnly(layer, directory: true) else { return nil }
            return .some(locator.tree(walkingUpFrom: fd))
        }
        // On a file system without trees in both views: in no tree.
        return allowedHere ? nil : .some(nil)
    }

    /// Whether `value` (a `TREES_ROOT`) names this scan's root directory.
    func namesRoot(_ value: ArraySlice<UInt8>) -> Bool {
        guard let root = locator.root, value.first == ProcBytes.slash, !value.contains(0),
              let fd = open(value, directory: true) else { return false }
        defer { close(fd) }
        return FileIdentity(fd: fd) == root
    }

    /// An absolute path (as the process spells it) resolved and walked up.
    private func tree(ofDirectory path: ArraySlice<UInt8>) -> TreeRef? {
        let cacheKey = ViewPath(view: view, path: path)
        if let known = locator.cached(cacheKey) { return known }
        guard let fd = open(path, directory: true) else {
            // In the scanner's own view a failure does not depend on the
            // process still being there, so it holds for every process.
            if isOwnView { locator.remember(cacheKey, nil) }
            return nil
        }
        let tree = locator.tree(walkingUpFrom: fd)
        locator.remember(cacheKey, tree)
        return tree
    }

    /// Opens an absolute path as the process sees it. Outside the scanner's
    /// own view it is resolved with `openat2(RESOLVE_IN_ROOT)` below
    /// `/proc/PID/root`, so an absolute symlink on the way (or `..`) stays
    /// in the process's root and mount namespace; through the magic link
    /// alone it would resolve against the scanner's root. Kernels without
    /// `openat2` (before 5.6) get the plain open.
    private func open(_ path: ArraySlice<UInt8>, directory: Bool) -> Int32? {
        guard locator.mayOpen(path, inView: view) else { return nil }
        let flags = openPathFlag | O_CLOEXEC | (directory ? O_DIRECTORY : 0)
        if isOwnView { return openPathOnly(path, directory: directory) }
        if locator.hasOpenat2, let root = rootDirectory.fd {
            let fd = retryingEINTR { (Array(path) + [0]).withUnsafeBufferPointer { p in
                p.withMemoryRebound(to: CChar.self) { c in
                    c.baseAddress.map { CT_openat2(root, $0, UInt64(flags), ProcessView.resolveInRoot | ProcessView.resolveNoMagicLinks) } ?? -1 } } }
            if fd >= 0 { return fd }
            if errno != ENOSYS { return nil }
            locator.hasOpenat2 = false
        }
        return files.openPath(Array("root".utf8) + path, directory: directory)
    }

    private static let resolveNoMagicLinks: UInt64 = 0x02
    private static let resolveInRoot: UInt64 = 0x10
}

/// A descriptor opened on first use and closed with the last copy of the
/// view that holds it.
final class LazyDescriptor {
    private let opener: () -> Int32?
    private var opened = false
    private var value: Int32?

    init(_ opener: @escaping () -> Int32?) { self.opener = opener }

    var fd: Int32? {
        if !opened {
            opened = true
            value = opener()
        }
        return value
    }

    deinit { if let value { close(value) } }
}

/// What a link without a spelling was found to hold.
enum LinkTarget: Equatable {
    /// In this tree, or (nil) in none.
    case tree(TreeRef?)
    /// Could not be told.
    case unknown
}
