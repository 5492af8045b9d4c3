import Foundation
import Testing

@Suite("trees metrics")
struct MetricsTests {
    static let families = [
        "trees_build_info", "trees_tree_info", "trees_tree_state", "trees_tree_verdict", "trees_tree_current",
        "trees_tree_draining", "trees_tree_jobs", "trees_tree_oldest_job_start_timestamp_seconds", "trees_tree_bytes",
        "trees_tree_installed_timestamp_seconds", "trees_current_activated_timestamp_seconds", "trees_unknown_processes",
        "trees_gc_runs_total", "trees_gc_deleted_trees_total", "trees_gc_freed_bytes_total",
        "trees_gc_last_success_timestamp_seconds", "trees_leases_refused_total",
    ]

    /// The value of `series` as written without its `root` label (`trees_gc_runs_total`,
    /// `trees_tree_jobs{name="app",rev="r1"}`), from a sample whose root is `root`.
    func value(_ text: String, _ series: String, root: String) -> String? {
        let (family, rest) = series.firstIndex(of: "{").map { (series[..<$0], series[series.index(after: $0)...]) } ?? (series[...], "")
        let full = "\(family){root=\"\(root)\"\(rest.isEmpty ? "}" : "," + rest)"
        return text.split(separator: "\n").first { $0.hasPrefix(full + " ") }.map { String($0.dropFirst(full.count + 1)) }
    }

    @Test("exactly the issue's metric names, each with HELP and TYPE, and a running job counted")
    func namesHelpTypeAndJobs() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        let job = try Background(treesBinary, ["--root", s.root, "exec", "app@r1", "--", "sleep", "60"])
        defer { job.stop() }
        #expect(eventually { (try? psEvidence(s))?.keys.contains("\(job.pid) app@r1") == true })
        let r = try s.trees(["metrics"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        let help = lines.filter { $0.hasPrefix("# HELP ") }.map { String($0.split(separator: " ")[2]) }
        let type = lines.filter { $0.hasPrefix("# TYPE ") }.map { String($0.split(separator: " ")[2]) }
        #expect(help == Self.families)
        #expect(type == Self.families)
        let sampleNames = Set(lines.filter { !$0.hasPrefix("#") }.map { String($0.prefix { $0 != "{" && $0 != " " }) })
        #expect(sampleNames.isSubset(of: Set(Self.families)))
        // Every series names its root first.
        #expect(lines.filter { !$0.hasPrefix("#") }.allSatisfy { $0.contains("{root=\"\(s.root)\"") })
        func value(_ series: String) -> String? { self.value(r.stdout, series, root: s.root) }
        let version = try run(treesBinary, ["--version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!version.isEmpty && value(#"trees_build_info{version="\#(version)"}"#) == "1")
        #expect(value(#"trees_tree_current{name="app",rev="r2"}"#) == "1")
        #expect(value(#"trees_tree_current{name="app",rev="r1"}"#) == "0")
        #expect(value(#"trees_tree_jobs{name="app",rev="r1"}"#) == "1", "\((try? s.trees(["ps", "--json"]).stdout) ?? "")")
        #expect(value(#"trees_tree_state{name="app",rev="r1",state="ready"}"#) == "1")
        #expect(value(#"trees_tree_state{name="app",rev="r1",state="condemned"}"#) == "0")
        #expect(value(#"trees_tree_draining{name="app",rev="r1"}"#) == "0")
        // The job started after r1 was installed and before this scrape (seconds are whole: a second's slack).
        let installed = try #require(Int64(value(#"trees_tree_installed_timestamp_seconds{name="app",rev="r1"}"#) ?? ""))
        let started = try #require(Int64(value(#"trees_tree_oldest_job_start_timestamp_seconds{name="app",rev="r1"}"#) ?? ""))
        #expect(started >= installed - 1 && started <= Int64(Date().timeIntervalSince1970))
        #expect(value(#"trees_tree_oldest_job_start_timestamp_seconds{name="app",rev="r2"}"#) == nil, "no job on r2")
        let activated = try #require(Int64(value(#"trees_current_activated_timestamp_seconds{name="app",rev="r2"}"#) ?? ""))
        #expect(activated >= installed)
        #expect(!r.stdout.contains(#"trees_current_activated_timestamp_seconds{root="\#(s.root)",name="app",rev="r1"}"#))
        // HELP and TYPE do not depend on the root: another root's text has the very same lines.
        let other = try run(treesBinary, ["--root", s.path + "/other", "metrics"]).stdout
        #expect(other.split(separator: "\n").filter { $0.hasPrefix("#") } == lines.filter { $0.hasPrefix("#") })
    }

    @Test("promtool check metrics accepts the output",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool"), "needs promtool (Debian package prometheus)"))
    func promtoolAccepts() throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        _ = try s.trees(["gc", "--keep", "0", "--min-age", "0"])
        try installRevs(s, ["r3"])
        // A job, so that the oldest job's start is among the families checked.
        let job = try Background(treesBinary, ["--root", s.root, "exec", "app@r2", "--", "sleep", "60"])
        defer { job.stop() }
        #expect(eventually { (try? psEvidence(s))?.keys.contains("\(job.pid) app@r2") == true })
        let text = try s.trees(["metrics"]).stdout
        #expect(value(text, #"trees_tree_oldest_job_start_timestamp_seconds{name="app",rev="r2"}"#, root: s.root) != nil)
        let file = try s.write("out.prom", text)
        let check = try run("/bin/sh", ["-c", "/usr/bin/promtool check metrics < \(file)"])
        #expect(check.status == 0 && check.stdout.isEmpty && check.stderr.isEmpty, "\(check.stdout)\(check.stderr)")
        #expect(value(text, "trees_gc_runs_total", root: s.root) == "1")
        // An empty root is valid too.
        let empty = try run(treesBinary, ["--root", s.path + "/none", "metrics"]).stdout
        try s.write("empty.prom", empty)
        #expect(try run("/bin/sh", ["-c", "/usr/bin/promtool check metrics < \(s.path)/empty.prom"]).status == 0)
        #expect(empty.contains(#"trees_gc_runs_total{root="\#(s.path)/none"} 0"#))
    }

    @Test("install, activate, rollback and gc rewrite the configured textfile atomically; nothing else is left")
    func textfileRefreshedByStateChanges() throws {
        let s = try Scratch()
        try FileManager.default.createDirectory(atPath: s.path + "/textfile", withIntermediateDirectories: true)
        let file = s.path + "/textfile/trees.prom"
        let env = ["TREES_METRICS_TEXTFILE": file]
        for f in 0..<2 { try s.write("src/f\(f)", "x\(f)") }
        func read() -> String { (try? String(contentsOfFile: file, encoding: .utf8)) ?? "" }
        func value(_ text: String, _ series: String) -> String? { self.value(text, series, root: s.root) }
        #expect(try s.trees(["install", "app@r1", s.path + "/src", "--activate"], environment: env).status == 0)
        #expect(value(read(), #"trees_tree_current{name="app",rev="r1"}"#) == "1")
        #expect(try s.trees(["install", "app@r2", s.path + "/src"], environment: env).status == 0)
        #expect(try s.trees(["activate", "app@r2"], environment: env).status == 0)
        #expect(value(read(), #"trees_tree_current{name="app",rev="r2"}"#) == "1")
        #expect(try s.trees(["rollback", "app"], environment: env).status == 0)
        #expect(value(read(), #"trees_tree_current{name="app",rev="r1"}"#) == "1")
        // The option wins over the environment, and works before the subcommand.
        let other = s.path + "/textfile/other.prom"
        #expect(try run(treesBinary, ["--root", s.root, "--metrics-textfile", other, "gc", "--keep", "5"], environment: env).status == 0)
        #expect(value((try? String(contentsOfFile: other, encoding: .utf8)) ?? "", "trees_gc_runs_total") == "1")
        #expect(listing(s.path + "/textfile") == ["other.prom", "trees.prom"], "no temporary file is left behind")
        // A textfile that cannot be written is a warning: the install itself is done.
        let r = try s.trees(["install", "app@r3", s.path + "/src"], environment: ["TREES_METRICS_TEXTFILE": s.path + "/missing/trees.prom"])
        #expect(r.status == 0 && r.stderr.contains("warning: cannot refresh the metrics textfile"))
    }

    @Test("--textfile must end in .prom: exit 65 and nothing written")
    func textfileNameChecked() throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        let r = try s.trees(["metrics", "--textfile", s.path + "/trees.txt"])
        #expect(r.status == 65 && r.stderr.contains(".prom"))
        #expect(!s.exists("trees.txt"))
    }
}
