#if canImport(Glibc)
import Glibc
#endif

/// The busy host for `ps`: 20 trees and planted processes (floor/hold.c,
/// which dies with its parent), every third one using a tree by one kind of
/// evidence each, the rest bystanders. It grows in place, so the ps series
/// measures 500, then 2,000, then 10,000 without planting anything twice.
final class Host {
    let root: String
    let treeCount = 20
    private let hold: String
    private let trees: String
    private(set) var planted: [pid_t] = []
    private(set) var users = Set<pid_t>()
    static let kinds = ["cwd", "fd", "exe", "maps", "environ", "cmdline", "lease"]

    init(bench: Bench, hold: String) throws {
        self.hold = hold
        trees = bench.trees
        let src = "\(bench.work)/host-src"
        try makeDirectories(src + "/bin")
        try makeDirectories(src + "/lib")
        try run(["cp", hold, src + "/bin/hold"])
        try writeFile(src + "/lib/f0", Array(repeating: 65, count: 4096)[...])
        try writeFile(src + "/job.py", Array("print('job')\n".utf8)[...])
        root = try bench.fresh("host-root")
        for k in 0..<treeCount { try run(bench.treesCommand("install", "--root", root, "app@r\(k)", src, "--activate")) }
    }

    /// Plants processes until there are `count`.
    func grow(to count: Int) throws {
        guard count > planted.count else { return }
        log("planting \(count - planted.count) more processes (\(count) in all, a third of them using a tree)")
        for i in planted.count..<count {
            var argv = [hold]
            var env: [String: String] = [:]
            let isUser = i % 3 == 0
            if isUser {
                let u = i / 3
                let rev = "r\((u / Host.kinds.count) % treeCount)"
                let tree = "\(root)/app/\(rev)"
                switch Host.kinds[u % Host.kinds.count] {
                case "cwd": argv += ["-c", tree]
                case "fd": argv += ["-o", tree + "/lib/f0"]
                case "exe": argv = [tree + "/bin/hold"]
                case "maps": argv += ["-m", tree + "/lib/f0"]
                case "environ": env = ["TREES_TREE": "app@\(rev)", "TREES_ROOT": root]
                case "cmdline": argv += [tree + "/job.py"]
                default: argv = [trees, "exec", "--root", root, "--no-chdir", "app@\(rev)", "--", hold]
                }
            }
            var fds: [Int32] = [0, 0]
            guard makePipe(&fds) else { throw BenchError("pipe failed") }
            let pid = try spawn(argv, environment: env, stdoutFD: fds[1])
            close(fds[1])
            planted.append(pid)
            var byte: UInt8 = 0
            let n = read(fds[0], &byte, 1)
            close(fds[0])
            if n != 1 { throw BenchError("planted process \(argv.joined(separator: " ")) did not start") }
            if isUser { users.insert(pid) }
        }
    }

    /// Kills and reaps every planted process.
    func stop() {
        for p in planted { kill(p, SIGKILL) }
        for p in planted { _ = reap(p) }
        planted = []
        users = []
    }
}

/// What one `ps` comparison measured: trees's samples and the floor's.
struct PsMeasurement {
    var trees: [Sample]
    var floor: [Sample]?
}

extension Bench {
    // MARK: ps on a busy host

    func ps() throws {
        try withHost("host") { host in
            try host.grow(to: options.processes)
            _ = try measurePs(host, floorLimit: 1.0)
        }
    }

    /// Runs `body` on a new busy host, stopped after; without a C compiler
    /// (no `hold` to plant), a row says so instead.
    private func withHost(_ workload: String, _ body: (Host) throws -> Void) throws {
        guard let hold else {
            rows.append(Row(operation: "ps --json", workload: workload, trees: "—", peer: "needs cc", ratio: "—",
                            target: "", met: nil))
            return
        }
        let host = try Host(bench: self, hold: hold)
        defer { host.stop() }
        try body(host)
    }

    /// Times `trees ps --json` on the host against the C floor and `lsof`,
    /// alternated, after one run of each to count the planted users it finds;
    /// appends a row for each peer and one for the users found.
    func measurePs(_ host: Host, floorLimit: Double) throws -> PsMeasurement {
        let root = host.root, users = host.users
        func pids(_ text: Substring, key: String) -> Set<pid_t> {
            var out = Set<pid_t>()
            var rest = text
            while let r = rest.range(of: key) {
                rest = rest[r.upperBound...]
                let digits = rest.drop(while: { $0 == " " || $0 == ":" }).prefix(while: { $0.isNumber })
                if let p = pid_t(digits) { out.insert(p) }
            }
            return out
        }
        // Who each tool finds, from one run of each.
        let psOut = try run(treesCommand("ps", "--root", root, "--json"), environment: treesEnvironment)
        let psProcesses = psOut.range(of: "\"unknown\"").map { psOut[..<$0.lowerBound] } ?? psOut[...]
        let foundTrees = pids(psProcesses, key: "\"pid\"").intersection(users).count
        var found = ["trees \(foundTrees)/\(users.count)"]
        var contenders = [Contender(label: "trees ps", argv: { _ in [self.trees, "ps", "--root", root, "--json"] },
                                    environment: treesEnvironment)]
        var floorIndex: Int?, lsofIndex: Int?
        if let floor {
            let out = try run([floor, root])
            let f = Set(out.split(separator: "\n").compactMap { pid_t($0) }).intersection(users).count
            found.append("floor \(f)/\(users.count)")
            floorIndex = contenders.count
            contenders.append(Contender(label: "floor", argv: { _ in [floor, root] }))
        }
        let lsofPaths: [String] = ["/usr/bin/lsof", "/usr/sbin/lsof", "/bin/lsof"]
        let lsof = lsofPaths.first { access($0, X_OK) == 0 }
        if let lsof {
            let out = try run([lsof, "-n", "+D", root, "-F", "p"], allowFailure: true)
            let l = Set(out.split(separator: "\n").filter { $0.hasPrefix("p") }.compactMap { pid_t($0.dropFirst()) })
                .intersection(users).count
            found.append("lsof \(l)/\(users.count)")
            lsofIndex = contenders.count
            contenders.append(Contender(label: "lsof", argv: { _ in [lsof, "-n", "+D", root] }, allowFailure: true))
        }
        let s = try alternate(options.quickRuns, contenders)
        let workload = "\(host.treeCount) trees, \(host.planted.count) extra processes"
        let floorTarget = "≤ \(fixed(floorLimit, 1))× the floor"
        if let floorIndex {
            var row = ratioRow("ps --json", workload, trees: s[0], peer: "C floor", s[floorIndex],
                               limit: floorLimit, target: floorTarget)
            row.trees += ", \(mib(peakRSS(s[0]))) RSS"
            row.values["trees_peak_rss_bytes"] = peakRSS(s[0])
            rows.append(row)
        } else {
            rows.append(missingRow("ps --json", workload, trees: s[0], peer: "C floor", package: "gcc", target: floorTarget))
        }
        if let lsofIndex {
            rows.append(ratioRow("ps --json", workload, trees: s[0], peer: "lsof -n +D ROOT", s[lsofIndex],
                                 limit: 0.5, target: "≤ 0.5× lsof"))
        } else {
            rows.append(missingRow("ps --json", workload, trees: s[0], peer: "lsof -n +D ROOT", package: "lsof", target: "≤ 0.5× lsof"))
        }
        rows.append(Row(operation: "ps --json: planted users found", workload: workload + ", \(users.count) users",
                        trees: "\(foundTrees)/\(users.count)", peer: found.dropFirst().joined(separator: ", "),
                        ratio: "—", target: "every planted user", met: foundTrees == users.count,
                        values: ["found": Double(foundTrees), "planted": Double(users.count)]))
        return PsMeasurement(trees: s[0], floor: floorIndex.map { s[$0] })
    }

    /// Issue 18's ps series: the same comparison at each --process-scale
    /// size, the host grown in place between them. The floor target is
    /// tighter on a busy host (0.6× from 2,000 processes) than on a quiet
    /// one (0.8×), where trees's fixed start-up weighs more.
    func psScale() throws {
        try withHost("ps series") { host in
            for n in options.processScale {
                try host.grow(to: n)
                let m = try measurePs(host, floorLimit: n >= 2_000 ? 0.6 : 0.8)
                record("ps", label: "trees ps --json vs the C floor (procscan.c)", unit: "extra processes",
                       peer: m.floor == nil ? nil : "C floor", point(n, trees: m.trees, peer: m.floor))
            }
        }
    }
}
