#if canImport(Glibc)
import Glibc
#endif

let allOperations = ["exec", "floor", "aged", "ps", "psscale", "install", "cold", "scale", "archive", "reinstall", "revision",
                     "delete", "concurrent"]

let usage = """
    USAGE: trees-bench [--files N] [--processes N] [--trees N] [--jobs N] [--runs N]
                       [--scale N,N...] [--process-scale N,N...]
                       [--only OP,OP...] [--json PATH] [--plot PATH] [--replot J,J...] [--trees-binary PATH]
                       [--dir DIR] [--keep]

    Times the release build of trees against its peers, alternating them, and
    prints a table (operation, workload, trees median, peer median, ratio,
    target, met). Builds its workloads under a new directory in --dir.

      --files N          files in the generated tree (default 50000, ~250 MB)
      --processes N      extra processes planted for ps (default 2000; a third use trees)
      --trees N          trees installed for list and gc --dry-run (default 10000)
      --jobs N           jobs run before "exec after N jobs" (default 100000; run 4 at a time)
      --scale N,N...     files in each tree of the scale series (default 10000,100000;
                         1000000 runs only when listed: many minutes, ~13 GB of disk)
      --process-scale N,N...  extra processes at each point of the ps series (default 500,2000,10000)
      --runs N           runs of each command (default: 15 for quick commands, 3 for installs)
      --only OPS         some of: \(allOperations.joined(separator: ","))
      --json PATH        also write the results as JSON (rows and series)
      --plot PATH        write the series as an SVG plot (default: the --json path with .svg)
      --replot J,J...    run nothing: draw --plot from the series of earlier --json files, merged
                         by series and size (e.g. a 1,000,000-file run made apart from the rest)
      --trees-binary P   the trees to time (default: swift build -c release --static-swift-stdlib, then .build/release/trees)
      --dir DIR          where the workloads go (default /var/tmp; not a tmpfs, so sync means something)
      --keep             keep the workload directory
    """

struct Options {
    var files = 50_000
    var processes = 2_000
    var trees = 10_000
    var jobs = 100_000
    var scale = [10_000, 100_000]
    var processScale = [500, 2_000, 10_000]
    var runs: Int?
    var only = Set(allOperations)
    var json: String?
    var plotPath: String?
    var replot: [String] = []
    var treesBinary: String?
    var dir = "/var/tmp"
    var keep = false

    var quickRuns: Int { runs ?? 15 }
    var heavyRuns: Int { runs ?? 3 }
    /// Runs at one size of the scale series: a tree of 300,000 files or more
    /// takes minutes to copy, so it is measured once unless --runs says otherwise.
    func scaleRuns(_ files: Int) -> Int { runs ?? (files >= 300_000 ? 1 : 3) }
    /// The SVG: --plot, or beside the JSON.
    var plot: String? {
        plotPath ?? json.map { ($0.hasSuffix(".json") ? String($0.dropLast(5)) : $0) + ".svg" }
    }

    static func parse(_ args: [String]) -> Options {
        var o = Options()
        var i = 0
        func value() -> String {
            i += 1
            guard i < args.count else { fail("\(args[i - 1]) needs a value") }
            return args[i]
        }
        func number() -> Int {
            let v = value()
            guard let n = Int(v), n >= 0 else { fail("\(args[i - 1]) needs a number, not \(v)") }
            return n
        }
        func numbers(minimum: Int) -> [Int] {
            let v = value()
            let ns = v.split(separator: ",").compactMap { Int($0) }
            guard !ns.isEmpty, ns.count == v.split(separator: ",").count, ns.allSatisfy({ $0 >= minimum }) else {
                fail("\(args[i - 1]) needs numbers of at least \(minimum) separated by commas, not \(v)")
            }
            return ns.sorted()
        }
        while i < args.count {
            switch args[i] {
            case "--files": o.files = max(100, number())
            case "--processes": o.processes = number()
            case "--trees": o.trees = max(3, number())
            case "--jobs": o.jobs = max(8, number())
            case "--runs": o.runs = max(1, number())
            case "--scale": o.scale = numbers(minimum: 100)
            case "--process-scale": o.processScale = numbers(minimum: 1)
            case "--only":
                o.only = Set(value().split(separator: ",").map(String.init))
                if let bad = o.only.first(where: { !allOperations.contains($0) }) {
                    fail("unknown operation \(bad); choose from \(allOperations.joined(separator: ","))")
                }
            case "--json": o.json = value()
            case "--plot": o.plotPath = value()
            case "--replot": o.replot = value().split(separator: ",").map(String.init)
            case "--trees-binary": o.treesBinary = value()
            case "--dir": o.dir = value()
            case "--keep": o.keep = true
            case "-h", "--help": print(usage); exit(0)
            default: fail("unknown option \(args[i])")
            }
            i += 1
        }
        return o
    }
}

func fail(_ message: String) -> Never {
    var text = "trees-bench: \(message)\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(64)
}

func log(_ message: String) {
    var text = "trees-bench: \(message)\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
