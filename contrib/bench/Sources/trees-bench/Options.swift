#if canImport(Glibc)
import Glibc
#endif

let allOperations = ["exec", "aged", "ps", "install", "archive", "reinstall", "revision", "delete", "concurrent"]

let usage = """
    USAGE: trees-bench [--files N] [--processes N] [--trees N] [--jobs N] [--runs N]
                       [--only OP,OP...] [--json PATH] [--trees-binary PATH]
                       [--dir DIR] [--keep]

    Times the release build of trees against its peers, alternating them, and
    prints a table (operation, workload, trees median, peer median, ratio,
    target, met). Builds its workloads under a new directory in --dir.

      --files N          files in the generated tree (default 50000, ~250 MB)
      --processes N      extra processes planted for ps (default 2000; a third use trees)
      --trees N          trees installed for list and gc --dry-run (default 1000)
      --jobs N           jobs run before "exec after N jobs" (default 10000)
      --runs N           runs of each command (default: 15 for quick commands, 3 for installs)
      --only OPS         some of: \(allOperations.joined(separator: ","))
      --json PATH        also write the results as JSON
      --trees-binary P   the trees to time (default: swift build -c release --static-swift-stdlib, then .build/release/trees)
      --dir DIR          where the workloads go (default /var/tmp; not a tmpfs, so sync means something)
      --keep             keep the workload directory
    """

struct Options {
    var files = 50_000
    var processes = 2_000
    var trees = 1_000
    var jobs = 10_000
    var runs: Int?
    var only = Set(allOperations)
    var json: String?
    var treesBinary: String?
    var dir = "/var/tmp"
    var keep = false

    var quickRuns: Int { runs ?? 15 }
    var heavyRuns: Int { runs ?? 3 }

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
        while i < args.count {
            switch args[i] {
            case "--files": o.files = max(100, number())
            case "--processes": o.processes = number()
            case "--trees": o.trees = max(3, number())
            case "--jobs": o.jobs = max(8, number())
            case "--runs": o.runs = max(1, number())
            case "--only":
                o.only = Set(value().split(separator: ",").map(String.init))
                if let bad = o.only.first(where: { !allOperations.contains($0) }) {
                    fail("unknown operation \(bad); choose from \(allOperations.joined(separator: ","))")
                }
            case "--json": o.json = value()
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
