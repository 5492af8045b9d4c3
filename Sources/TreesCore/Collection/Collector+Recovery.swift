#if canImport(Glibc)
import Glibc
#endif

extension Collector {
    /// Resumes what a killed command left before gc decides anything:
    /// killed installs (when no install is in its final steps) and killed
    /// activations are settled first, so that min-age sees when the old tree
    /// stopped being current and no tree is stuck `installing`. Then what a
    /// killed GC left: `condemned` trees go back to `ready` (or on to
    /// `deleting` if the rename happened), a `deleting` tree still in place
    /// or in transit beside it (killed before its rename into the trash)
    /// goes back to `ready` too, and `deleting`
    /// trees in the trash and leftover trash are finished.
    public func recover() throws {
        try Installer(root: root, store: store).recover()
        try Activation(root: root, store: store).recover()
        let trash = try root.trash()
        var trashNames = Set(try trash.entries().map { $0.name.display })
        for tree in try store.trees() where tree.state == .condemned || tree.state == .deleting {
            let trashName = "\(tree.ref).\(tree.id)"
            let inTrash = trashNames.contains(trashName)
            trashNames.remove(trashName)
            // A tree killed on its way to the trash is sealed and put back first.
            let onDisk = try root.hasTree(tree.ref) || root.settleTransit(tree.ref, .leaving)
            if onDisk && !inTrash {
                // Never renamed: undo, whichever step it reached. A later gc
                // decides afresh, with a new scan.
                try store.write {
                    if let row = try store.tree(tree.ref), row.state == .condemned || row.state == .deleting {
                        try store.reprieve(row.ref)
                    }
                }
            } else if inTrash {
                try store.write { try store.markDeleting(tree.ref) }
                _ = try finishDeleting(tree.ref, id: tree.id, trashName: trashName, reason: tree.deleteReason ?? "unused")
            } else if !onDisk {
                try store.write { try store.markDeleted(tree.ref, at: now()) }
            }
        }
        // Anything else in the trash is ours to finish (its row is gone or already deleted).
        var remover = Remover(device: try trash.status().st_dev)
        for name in trashNames { try remover.remove(Array(name.utf8), in: trash) }
    }
}
