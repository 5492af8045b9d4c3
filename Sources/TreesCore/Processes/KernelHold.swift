/// A tree the kernel holds for no process in particular: a mount of a part
/// of it (a bind mount, or an overlay with it as a layer) in some mount
/// namespace, a loop device or a swap file backed by one of its files. gc
/// keeps the tree while the hold lasts, as it does for a process.
public struct KernelHold: Sendable, Hashable {
    /// `.mount`, `.loop` or `.swap`.
    public var kind: EvidenceKind
    public var tree: TreeRef
    /// What holds it, for people: `overlay on /merged (mnt:[4026532301])`,
    /// `/dev/loop3`, `swap file /swapfile`. Paths are as the kernel spells them.
    public var holder: String

    public init(kind: EvidenceKind, tree: TreeRef, holder: String) {
        self.kind = kind
        self.tree = tree
        self.holder = holder
    }
}
