/// Renders a `HostSnapshot` in the Prometheus text exposition format
/// (version 0.0.4), for node_exporter's textfile collector or a scrape.
///
/// Every metric family has its HELP and TYPE lines even when it has no
/// samples, so a dashboard never sees a family vanish; label values are
/// escaped (backslash, double quote, newline) although names and revs
/// cannot hold those characters, because the format must never depend on it.
public enum MetricsExporter {
    public static func render(_ snapshot: HostSnapshot) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: [(String, String)], value: Int64)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for sample in samples {
                let labels = sample.labels.map { "\($0.0)=\"\(escapeLabelValue($0.1))\"" }.joined(separator: ",")
                out += labels.isEmpty ? "\(name) \(sample.value)\n" : "\(name){\(labels)} \(sample.value)\n"
            }
        }
        let trees = snapshot.trees.filter { $0.state != .deleted }
            .sorted { ($0.ref.name.value, $0.ref.rev.value) < ($1.ref.name.value, $1.ref.rev.value) }
        func ids(_ t: TreeRecord) -> [(String, String)] { [("name", t.ref.name.value), ("rev", t.ref.rev.value)] }
        family("trees_tree_info", "gauge", "An installed tree and its state (installing, ready, condemned, deleting); always 1.",
               trees.map { (ids($0) + [("state", $0.state.rawValue)], 1) })
        family("trees_tree_verdict", "gauge", "1 for this tree's verdict (unverified, good, bad), 0 for the others: a state set.",
               trees.flatMap { t in Verdict.allCases.map { (ids(t) + [("verdict", $0.rawValue)], t.verdict.verdict == $0 ? 1 : 0) } })
        family("trees_tree_current", "gauge", "1 if ROOT/NAME/current points at this tree, else 0.",
               trees.map { (ids($0), snapshot.isCurrent($0.ref) ? 1 : 0) })
        family("trees_tree_jobs", "gauge", "Processes running from this tree (by lease or /proc evidence).",
               trees.map { (ids($0), Int64(snapshot.jobs(on: $0.ref))) })
        family("trees_tree_bytes", "gauge", "Bytes of regular files in this tree.",
               trees.map { (ids($0), $0.bytes) })
        family("trees_tree_installed_timestamp_seconds", "gauge", "When this tree was installed, in unix seconds.",
               trees.compactMap { t in t.installedAt.map { (ids(t), $0) } })
        family("trees_unknown_processes", "gauge", "Processes that could not be inspected; gc keeps every candidate while there are any.",
               [([], Int64(snapshot.usage.unknown.count))])
        let c = snapshot.counters
        family("trees_gc_runs_total", "counter", "Completed gc runs (not counting --dry-run).", [([], c[.gcRuns] ?? 0)])
        family("trees_gc_deleted_trees_total", "counter", "Trees deleted by gc.", [([], c[.gcDeletedTrees] ?? 0)])
        family("trees_gc_freed_bytes_total", "counter", "Bytes freed by gc.", [([], c[.gcFreedBytes] ?? 0)])
        family("trees_gc_last_success_timestamp_seconds", "gauge", "When the last gc run completed, in unix seconds; 0 if never.",
               [([], c[.gcLastSuccess] ?? 0)])
        family("trees_leases_refused_total", "counter", "Leases refused because their tree was being collected.",
               [([], c[.leasesRefused] ?? 0)])
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
