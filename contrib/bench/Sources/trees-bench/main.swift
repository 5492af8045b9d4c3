// trees-bench: times the `trees` binary, as a process, against its peers.
// It links nothing of trees: it runs the release build the way a job
// wrapper, a rollout tool or an operator would. See contrib/bench/README.md.
#if canImport(Glibc)
import Glibc
#endif

let options = Options.parse(Array(CommandLine.arguments.dropFirst()))
// The repository: this file is contrib/bench/Sources/trees-bench/main.swift.
let repo: String = {
    var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(5)
    return parts.joined(separator: "/")
}()
for name in ["TREES_ROOT", "TREES_TREE", "TREES_TREE_PATH", "TREES_LEASE"] { unsetenv(name) }

/// The trees binary: --trees-binary, or a release build made now with the
/// Swift runtime linked in, as contrib/package-deb builds what the Debian
/// package ships (Package.swift leaves that choice to the command line).
func locateTrees() throws -> String {
    if let given = options.treesBinary {
        guard access(given, X_OK) == 0 else { fail("no executable at \(given)") }
        return given
    }
    let args = ["swift", "build", "--package-path", repo, "-c", "release", "--static-swift-stdlib", "--product", "trees"]
    log("building: \(args.joined(separator: " "))")
    try run(args)
    let bin = try run(args + ["--show-bin-path"]).split(separator: "\n").last.map(String.init) ?? ""
    return bin + "/trees"
}

func firstLine(_ path: String, containing key: String) -> String? {
    guard let f = fopen(path, "r") else { return nil }
    defer { fclose(f) }
    var line: UnsafeMutablePointer<CChar>?
    var cap = 0
    defer { free(line) }
    while getline(&line, &cap, f) > 0, let line {
        let s = String(cString: line)
        if s.hasPrefix(key) { return String(s.drop(while: { $0 != ":" }).dropFirst().drop(while: { $0 == " " }).dropLast()) }
    }
    return nil
}

func machine(work: String, trees: String) -> [(String, String)] {
    var u = utsname()
    uname(&u)
    let kernel = withUnsafeBytes(of: u.release) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
    let disk = ((try? run(["df", "-PT", work])) ?? "").split(separator: "\n").last.map {
        $0.split(separator: " ").prefix(2).joined(separator: " ")
    } ?? "?"
    var load = [Double](repeating: 0, count: 3)
    getloadavg(&load, 3)
    return [
        ("cores", "\(sysconf(Int32(_SC_NPROCESSORS_ONLN)))"),
        ("cpu", firstLine("/proc/cpuinfo", containing: "model name") ?? "?"),
        ("memory", firstLine("/proc/meminfo", containing: "MemTotal") ?? "?"),
        ("kernel", "Linux \(kernel)"),
        ("disk", "\(disk) (workloads in \(work))"),
        ("load average at start", load.map { fixed($0, 2) }.joined(separator: " ")),
        ("trees", trees),
    ]
}

if !options.replot.isEmpty {
    guard let plot = options.plotPath else { fail("--replot needs --plot PATH") }
    do {
        try writeFile(plot, Array(svgPlot(try mergedSeries(options.replot)).utf8)[...])
        log("wrote \(plot)")
        exit(0)
    } catch {
        fail("cannot replot: \(error)")
    }
}

do {
    let trees = try locateTrees()
    var template = Array("\(options.dir)/trees-bench.XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { fail("cannot make a directory in \(options.dir): \(String(cString: strerror(errno)))") }
    let work = String(cString: made)
    let bench = Bench(options: options, work: work, trees: trees, repo: repo)
    defer {
        if options.keep { log("workloads kept in \(work)") } else { try? bench.remove(work) }
    }
    let info = machine(work: work, trees: trees)
    print("# trees-bench")
    print("")
    for (k, v) in info { print("- \(k): \(v)") }
    print("- medians of \(options.quickRuns) runs (quick commands) and \(options.heavyRuns) (installs, deletes); wall time; contenders alternated")
    print("")
    launcher = bench.compile("launch")
    if launcher == nil { log("peak RSS figures include trees-bench's own: floor/launch.c could not be built") }
    bench.floor = bench.compile("procscan")
    bench.hold = bench.compile("hold")
    if options.only.contains("floor") { bench.execFloor = bench.compile("execfloor", libraries: ["-lsqlite3"]) }

    for op in allOperations where options.only.contains(op) {
        log("== \(op)")
        let start = monotonic()
        do {
            switch op {
            case "exec": try bench.exec()
            case "floor": try bench.execAgainstFloor()
            case "aged": try bench.aged()
            case "ps": try bench.ps()
            case "psscale": try bench.psScale()
            case "install": try bench.install()
            case "cold": try bench.coldInstall()
            case "scale": try bench.scale()
            case "archive": try bench.archive()
            case "reinstall": try bench.reinstall()
            case "revision": try bench.revision()
            case "delete": try bench.delete()
            case "concurrent": try bench.concurrent()
            default: break
            }
        } catch {
            log("\(op) failed: \(error)")
            bench.rows.append(Row(operation: op, workload: "—", trees: "failed: \(error)", peer: "—", ratio: "—",
                                  target: "", met: false))
        }
        for k in bench.rows.indices where bench.rows[k].id.isEmpty { bench.rows[k].id = op }
        log("   \(op) took \(duration(monotonic() - start))")
        // Written after each operation too, so a long run stopped early keeps what it measured.
        if let json = options.json { try? writeJSON(bench.rows, series: bench.series, machine: info, options: [("partial", "yes")], to: json) }
    }
    printTable(bench.rows)
    if !bench.missing.isEmpty {
        print("")
        print("Missing peers (nothing was installed): " + Set(bench.missing).sorted().joined(separator: "; "))
    }
    let met = bench.rows.compactMap(\.met)
    print("")
    print("\(met.filter { $0 }.count) of \(met.count) targets met.")
    if let json = options.json {
        try writeJSON(bench.rows, series: bench.series, machine: info,
                      options: [("files", "\(options.files)"), ("processes", "\(options.processes)"),
                                ("trees", "\(options.trees)"), ("jobs", "\(options.jobs)"),
                                ("scale", options.scale.map(String.init).joined(separator: ",")),
                                ("process_scale", options.processScale.map(String.init).joined(separator: ",")),
                                ("quick_runs", "\(options.quickRuns)"), ("heavy_runs", "\(options.heavyRuns)"),
                                ("operations", allOperations.filter { options.only.contains($0) }.joined(separator: ","))],
                      to: json)
        log("wrote \(json)")
    }
    if let plot = options.plot {
        try writeFile(plot, Array(svgPlot(bench.series).utf8)[...])
        log("wrote \(plot)")
    }
} catch {
    log("\(error)")
    exit(1)
}
