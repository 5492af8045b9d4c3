#if canImport(Glibc)
import Glibc
#endif

/// Combines leases (from the store, when there is one) with /proc evidence.
public struct UsageScanner {
    public let root: Root
    public let store: Store?
    public var probe: ProcessProbe
    /// Pids whose being uninspectable the operator accepts
    /// (`Settings.ignoredUnknownPIDs`; the CLI reads `TREES_IGNORE_UNKNOWN_PIDS`). Typically `1` in a
    /// container or VM whose init is not dumpable and so cannot be read even
    /// by root without CAP_SYS_PTRACE. Empty by default: fail closed.
    public var ignoredUnknownPIDs: Set<Int32>
    /// Test seam: replaces the /proc pass (a fake scan with unknown processes).
    var procScanOverride: (() throws -> ProcScan)?
    /// Told `UsageReport.privilegeNotice` after each scan that has one
    /// (a command shows it once, however often it scans).
    public var onPrivilegeNotice: ((String) -> Void)?

    public init(root: Root, store: Store?, probe: ProcessProbe = ProcessProbe()) {
        self.root = root
        self.store = store
        self.probe = probe
        ignoredUnknownPIDs = root.settings.ignoredUnknownPIDs
    }

    /// One pass over /proc plus the live leases: who runs from which tree.
    /// - Returns: holders per tree, and the processes that could not be
    ///   inspected (`unknown`), on which every consumer must fail closed.
    /// - Throws: when /proc itself cannot be read, or the database fails.
    public func scan() throws -> UsageReport {
        let selfPID = getpid()
        let resolver: (TreeName) -> Rev? = { [root] name in try? root.currentRev(of: name) }
        let proc = try procScanOverride?()
            ?? ProcScanner(treesRoot: root.path, procRoot: probe.procRoot, currentResolver: resolver).scan()
        var holders: [Holder] = []
        var index: [Key: Int] = [:]
        for process in proc.processes where process.pid != selfPID {
            for (tree, kinds) in process.trees {
                index[Key(pid: process.pid, tree: tree)] = holders.count
                holders.append(Holder(pid: process.pid, tree: tree, evidence: kinds, command: process.command,
                                      startTime: process.startTime, leaseID: nil, bySpelling: process.bySpelling[tree] ?? []))
            }
        }
        // Held by the kernel for no process (a mount, a loop device, a swap
        // file): pid 0, one row per holder, named in the command column.
        for hold in proc.kernel {
            holders.append(Holder(pid: 0, tree: hold.tree, evidence: [hold.kind], command: hold.holder, startTime: 0, leaseID: nil))
        }
        if let store {
            for (lease, liveness) in try Leases(root: root, store: store, probe: probe).list() where liveness == .live {
                let key = Key(pid: lease.pid, tree: lease.tree)
                if let i = index[key] {
                    holders[i].evidence.insert(.lease)
                    holders[i].leaseID = lease.id
                } else {
                    index[key] = holders.count
                    holders.append(Holder(pid: lease.pid, tree: lease.tree, evidence: [.lease],
                                          command: lease.command ?? "", startTime: lease.startTime, leaseID: lease.id))
                }
            }
        }
        // Text evidence (a command line, an environment value) can name a
        // tree that was never installed, `ROOT/app/r*` in a glob say; only
        // trees present under the root are reported.
        var present: [TreeRef: Bool] = [:]
        holders = holders.filter { holder in
            if let known = present[holder.tree] { return known }
            // A tree that cannot be checked keeps its holders: fail closed.
            let exists = (try? root.hasTree(holder.tree)) ?? true
            present[holder.tree] = exists
            return exists
        }
        holders.sort { ($0.tree.name.value, $0.tree.rev.value, $0.pid) < ($1.tree.name.value, $1.tree.rev.value, $1.pid) }
        let unknown = proc.unknown.filter { $0.pid != selfPID }
        let report = UsageReport(holders: holders, unknown: unknown.filter { !ignoredUnknownPIDs.contains($0.pid) },
                                 ignoredUnknown: unknown.filter { ignoredUnknownPIDs.contains($0.pid) },
                                 missingCapabilities: proc.missingCapabilities)
        if let notice = report.privilegeNotice { onPrivilegeNotice?(notice) }
        return report
    }

    private struct Key: Hashable {
        let pid: Int32
        let tree: TreeRef
    }
}
