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
            Metrics: trees_tree_info{name,rev,state}, trees_tree_current{name,rev} (1 or 0), \
            trees_tree_jobs{name,rev}, trees_tree_bytes{name,rev}, \
            trees_tree_installed_timestamp_seconds{name,rev}, trees_unknown_processes, \
            trees_gc_runs_total, trees_gc_deleted_trees_total, trees_gc_freed_bytes_total, \
            trees_gc_last_success_timestamp_seconds, trees_leases_refused_total.

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
        return MetricsExporter.render(try HostSnapshot.take(root: root, store: store, scanner: nil))
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
