/// Renders a `HostSnapshot` in the Prometheus text exposition format
/// (version 0.0.4), for node_exporter's textfile collector or a scrape.
///
/// Every family of `MetricFamily` has its HELP and TYPE lines, in that
/// table's order, even when it has no samples, so a dashboard never sees a
/// family vanish; every sample has `root` as its first label. A tree's state
/// and verdict are state sets (a series per possible value, 1 for the one
/// that holds) so that no series' labels change over a tree's life, and
/// `trees_tree_info` keeps only labels that never change (its digest).
/// Label values are escaped (backslash, double quote, newline) although
/// names and revs cannot hold those characters, because the format must
/// never depend on it (a root's path can hold them).
public enum MetricsExporter {
    /// - Parameters:
    ///   - snapshot: what the host holds.
    ///   - version: the version of trees (`trees --version`), for `trees_build_info`.
    public static func render(_ snapshot: HostSnapshot, version: String) -> String {
        typealias Sample = (labels: [(String, String)], value: Int64)
        let trees = snapshot.trees.filter { $0.state != .deleted }
            .sorted { ($0.ref.name.value, $0.ref.rev.value) < ($1.ref.name.value, $1.ref.rev.value) }
        func ids(_ ref: TreeRef) -> [(String, String)] { [("name", ref.name.value), ("rev", ref.rev.value)] }
        func perTree(_ value: (TreeRecord) -> Int64?) -> [Sample] {
            trees.compactMap { t in value(t).map { (ids(t.ref), $0) } }
        }
        func stateSet<T: RawRepresentable<String>>(_ label: String, _ all: [T], _ of: (TreeRecord) -> T) -> [Sample] {
            trees.flatMap { t in all.map { (ids(t.ref) + [(label, $0.rawValue)], of(t) == $0 ? 1 : 0) } }
        }
        let c = snapshot.counters
        func samples(_ family: MetricFamily) -> [Sample] {
            switch family {
            case .buildInfo: [([("version", version)], 1)]
            case .treeInfo: trees.compactMap { t in t.digest.map { (ids(t.ref) + [("digest", $0)], 1) } }
            case .treeState: stateSet("state", TreeState.allCases.filter { $0 != .deleted }, \.state)
            case .treeVerdict: stateSet("verdict", Verdict.allCases, \.verdict.verdict)
            case .treeCurrent: perTree { snapshot.isCurrent($0.ref) ? 1 : 0 }
            case .treeDraining: perTree { snapshot.draining.contains($0.ref) ? 1 : 0 }
            case .treeJobs: perTree { Int64(snapshot.jobs(on: $0.ref)) }
            case .treeOldestJobStart: perTree { t in snapshot.oldestJob { $0 == t.ref }?.startedAt }
            case .treeBytes: perTree(\.bytes)
            case .treeInstalled: perTree(\.installedAt)
            case .currentActivated: trees.compactMap { t in snapshot.isCurrent(t.ref) ? t.activatedAt.map { (ids(t.ref), $0) } : nil }
            case .unknownProcesses: [([], Int64(snapshot.usage.unknown.count))]
            case .gcRuns: [([], c[.gcRuns] ?? 0)]
            case .gcDeletedTrees: [([], c[.gcDeletedTrees] ?? 0)]
            case .gcFreedBytes: [([], c[.gcFreedBytes] ?? 0)]
            case .gcLastSuccess: [([], c[.gcLastSuccess] ?? 0)]
            case .leasesRefused: [([], c[.leasesRefused] ?? 0)]
            }
        }
        var out = ""
        for family in MetricFamily.allCases {
            out += "# HELP \(family.name) \(family.help)\n# TYPE \(family.name) \(family.type)\n"
            for sample in samples(family) {
                let labels = ([("root", snapshot.root)] + sample.labels).map { "\($0.0)=\"\(escapeLabelValue($0.1))\"" }
                out += "\(family.name){\(labels.joined(separator: ","))} \(sample.value)\n"
            }
        }
        return out
    }

    /// Escapes a label value as the exposition format requires.
    public static func escapeLabelValue(_ value: String) -> String {
        var out = ""
        for ch in value {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(ch)
            }
        }
        return out
    }
}
