import ArgumentParser
import TreesCore
#if canImport(Glibc)
import Glibc
#endif

struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Print this host's trees in the Prometheus text format, or write them for node_exporter.",
        discussion: """
            Every series has a root label (the root's path), so the textfiles of two roots \
            on one host never collide. Metrics: trees_build_info{root,version}; per tree \
            trees_tree_info{root,name,rev,digest}, trees_tree_state{root,name,rev,state} and \
            trees_tree_verdict{root,name,rev,verdict} (state sets: 1 for the tree's state or \
            verdict, 0 for the others), trees_tree_current, trees_tree_draining (1 or 0), \
            trees_tree_jobs, trees_tree_oldest_job_start_timestamp_seconds (absent when no \
            process runs from it), trees_tree_bytes, trees_tree_installed_timestamp_seconds, \
            all {root,name,rev}; trees_current_activated_timestamp_seconds{root,name,rev}; then \
            per root trees_unknown_processes, trees_gc_runs_total, trees_gc_deleted_trees_total, \
            trees_gc_freed_bytes_total, trees_gc_last_success_timestamp_seconds and \
            trees_leases_refused_total. contrib/prometheus/trees.rules.yml has alerts on them.

            With --textfile PATH (ending in .prom) the text is written to a temporary file \
            in PATH's directory, fsynced and renamed over PATH, so node_exporter's textfile \
            collector never reads half of it. install, activate, rollback and gc rewrite \
            the same file when --metrics-textfile or TREES_METRICS_TEXTFILE names it.

            \(exitStatusHelp)
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Write to this file atomically instead of printing (e.g. /var/lib/prometheus/node-exporter/trees.prom).",
                               valueName: "PATH"))
    var textfile: String?

    func run() throws {
        let text = try global.metricsText()
        if let textfile {
            try TextfileWriter.write(text, to: textfile)
        } else {
            print(text, terminator: "")
        }
    }
}

extension GlobalOptions {
    /// The exposition text for this root: one database read and one /proc pass.
    /// A root that does not exist yet gives the families with no trees.
    func metricsText() throws -> String {
        let root = try openRoot()
        let store = try root.map { try $0.openStore(create: true) }
        let snapshot = try HostSnapshot.take(location: location, root: root, store: store, scanner: nil)
        return MetricsExporter.render(snapshot, version: Trees.configuration.version)
    }

    /// Rewrites the configured metrics textfile after a state change. A failure
    /// here is a warning, not the command's failure: the change itself is done.
    func refreshMetrics() {
        guard let path = metricsTextfilePath else { return }
        do {
            try TextfileWriter.write(try metricsText(), to: path)
        } catch {
            printWarning("cannot refresh the metrics textfile \(path): \(error)")
        }
    }
}
