/// Every metric family `trees metrics` writes, in the order it writes them,
/// with its type, labels and help defined here once.
///
/// node_exporter's textfile collector merges the files of every root on a
/// host into one exposition, and its gatherer rejects a family whose HELP or
/// TYPE differs between two files: so no help text may depend on the root,
/// and every series carries `root` (the root's path) so two roots' series
/// never collide. The text format 0.0.4 has no state-set or info type; those
/// families are gauges, as node_exporter writes its own.
public enum MetricFamily: String, CaseIterable, Sendable {
    case buildInfo = "trees_build_info"
    case treeInfo = "trees_tree_info"
    case treeState = "trees_tree_state"
    case treeVerdict = "trees_tree_verdict"
    case treeCurrent = "trees_tree_current"
    case treeDraining = "trees_tree_draining"
    case treeJobs = "trees_tree_jobs"
    case treeOldestJobStart = "trees_tree_oldest_job_start_timestamp_seconds"
    case treeBytes = "trees_tree_bytes"
    case treeInstalled = "trees_tree_installed_timestamp_seconds"
    case currentActivated = "trees_current_activated_timestamp_seconds"
    case unknownProcesses = "trees_unknown_processes"
    case gcRuns = "trees_gc_runs_total"
    case gcDeletedTrees = "trees_gc_deleted_trees_total"
    case gcFreedBytes = "trees_gc_freed_bytes_total"
    case gcLastSuccess = "trees_gc_last_success_timestamp_seconds"
    case leasesRefused = "trees_leases_refused_total"

    public var name: String { rawValue }

    /// `gauge` or `counter` (every `_total` family, and only those).
    public var type: String { name.hasSuffix("_total") ? "counter" : "gauge" }

    /// The labels of each series, `root` first; a tree's series add `name` and `rev`.
    public var labels: [String] {
        switch self {
        case .buildInfo: ["root", "version"]
        case .treeInfo: ["root", "name", "rev", "digest"]
        case .treeState: ["root", "name", "rev", "state"]
        case .treeVerdict: ["root", "name", "rev", "verdict"]
        case .treeCurrent, .treeDraining, .treeJobs, .treeOldestJobStart, .treeBytes, .treeInstalled, .currentActivated:
            ["root", "name", "rev"]
        case .unknownProcesses, .gcRuns, .gcDeletedTrees, .gcFreedBytes, .gcLastSuccess, .leasesRefused: ["root"]
        }
    }

    public var help: String {
        switch self {
        case .buildInfo: "Always 1: the version of trees that wrote these metrics."
        case .treeInfo:
            "Always 1: an installed tree and the digest of its content, which never changes (none while it installs)."
        case .treeState:
            "1 for the tree's state (installing, ready, condemned, deleting), 0 for the others: a state set."
        case .treeVerdict: "1 for this tree's verdict (unverified, good, bad), 0 for the others: a state set."
        case .treeCurrent: "1 if ROOT/NAME/current points at this tree, else 0."
        case .treeDraining: "1 while trees drain is ending the processes that run from this tree, else 0."
        case .treeJobs: "Processes running from this tree (by lease or /proc evidence)."
        case .treeOldestJobStart:
            "When the oldest process running from this tree started, in unix seconds; absent when none runs."
        case .treeBytes: "Bytes of regular files in this tree."
        case .treeInstalled: "When this tree was installed, in unix seconds."
        case .currentActivated: "When the current tree of NAME became current, in unix seconds."
        case .unknownProcesses: "Processes that could not be inspected; gc keeps every candidate while there are any."
        case .gcRuns: "Completed gc runs (not counting --dry-run)."
        case .gcDeletedTrees: "Trees deleted by gc."
        case .gcFreedBytes: "Bytes freed by gc."
        case .gcLastSuccess: "When the last gc run completed, in unix seconds; 0 if never."
        case .leasesRefused: "Leases refused because their tree was being collected."
        }
    }
}
