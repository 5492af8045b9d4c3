/// What one scan knows beyond the path pass: the trees by identity, the
/// scanner's own mount namespace and the root's tag in job cgroup names.
struct ScanContext {
    /// Nil or inactive for a fake proc root (no trees exist on disk there).
    let locator: TreeLocator?
    let ownNamespace: [UInt8]?
    let rootTag: String?

    init(locator: TreeLocator?, ownNamespace: [UInt8]?) {
        self.locator = locator
        self.ownNamespace = ownNamespace
        rootTag = locator?.root.map(Cgroup.rootTag(of:))
    }

    /// The same context with caches of its own, for a second worker.
    func forWorker() -> ScanContext {
        ScanContext(locator: locator?.forWorker(), ownNamespace: ownNamespace)
    }

    /// The view of one process (or thread) for the identity pass; nil when
    /// there are no trees to find by identity.
    func view(of files: any ProcessFiles, pid: Int32, rootShown: [UInt8]?, cwdShown: [UInt8]?) -> ProcessView? {
        guard let locator, locator.isActive else { return nil }
        return ProcessView(files: files, locator: locator, mountNamespace: try? files.readLink("ns/mnt"),
                           ownNamespace: ownNamespace, rootShown: rootShown, cwdShown: cwdShown, pid: pid)
    }
}
