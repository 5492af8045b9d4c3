#if canImport(Glibc)
import Glibc
#endif

/// One command in an alternating comparison, with untimed set-up and clean-up.
struct Contender {
    let label: String
    var prepare: (Int) throws -> Void = { _ in }
    let argv: (Int) -> [String]
    var cleanup: (Int) throws -> Void = { _ in }
    var environment: [String: String] = [:]
    var allowFailure = false
}

/// Everything the operations share: paths, options, the binaries.
final class Bench {
    let options: Options
    let work: String
    let trees: String
    let repo: String
    var rows: [Row] = []
    var series: [Series] = []
    var cache: [String: String] = [:]
    var samplesCache: [String: [Sample]] = [:]
    var missing: [String] = []
    var floor: String?     // the compiled C floor scanner
    var hold: String?      // the compiled planted-process program
    var execFloor: String? // the compiled C floor of trees exec
    /// Environment for every trees run: pid 1 of a VM is often not
    /// inspectable even by root, and would otherwise make ps and gc report
    /// it as unknown (and gc keep everything).
    let treesEnvironment = ["TREES_IGNORE_UNKNOWN_PIDS": "1"]

    init(options: Options, work: String, trees: String, repo: String) {
        self.options = options
        self.work = work
        self.trees = trees
        self.repo = repo
    }

    /// Runs the contenders in turn, `runs` times (A B C A B C ...), so that a
    /// machine whose speed drifts slows them all alike; returns each one's samples.
    func alternate(_ runs: Int, _ contenders: [Contender]) throws -> [[Sample]] {
        var samples = Array(repeating: [Sample](), count: contenders.count)
        for run in 0..<runs {
            for (k, c) in contenders.enumerated() {
                try c.prepare(run)
                let s = try measure(c.argv(run), environment: c.environment)
                if s.status != 0 && !c.allowFailure {
                    throw BenchError("\(c.label) exited \(s.status): \(c.argv(run).joined(separator: " "))")
                }
                samples[k].append(s)
                try c.cleanup(run)
            }
        }
        return samples
    }

    /// A row comparing trees's median wall time with a peer's.
    func ratioRow(_ operation: String, _ workload: String, trees: [Sample], peer: String, _ other: [Sample],
                  limit: Double, target: String) -> Row {
        let t = median(trees.map(\.wall)), p = median(other.map(\.wall))
        let ratio = t / p
        return Row(operation: operation, workload: workload, trees: duration(t), peer: "\(peer): \(duration(p))",
                   ratio: fixed(ratio, 2) + "×", target: target, met: ratio <= limit,
                   shortfall: ratio <= limit ? "" : "\(fixed(ratio, 2))× > \(fixed(limit, 2))×",
                   values: ["trees_s": t, "peer_s": p, "ratio": ratio,
                            "trees_cpu_s": median(trees.map(\.cpu)), "peer_cpu_s": median(other.map(\.cpu))])
    }

    func missingRow(_ operation: String, _ workload: String, trees: [Sample]?, peer: String, package: String, target: String) -> Row {
        missing.append("\(peer) (apt-get install \(package))")
        return Row(operation: operation, workload: workload, trees: trees.map { duration(median($0.map(\.wall))) } ?? "—",
                   peer: "\(peer): missing, apt-get install \(package)", ratio: "—", target: target, met: nil)
    }

    func treesCommand(_ args: String...) -> [String] { [trees] + args }

    /// A fresh directory under the work directory.
    func fresh(_ name: String) throws -> String {
        let p = "\(work)/\(name)"
        try remove(p)
        return p
    }

    /// Removes a path that may hold read-only trees.
    func remove(_ path: String) throws {
        if access(path, F_OK) == 0 {
            if getuid() != 0 { try run(["chmod", "-R", "u+w", path]) }
            try run(["rm", "-rf", path])
        }
    }

    // MARK: workloads, each made once

    private var smallSource: String?
    /// A few small files: the tree for exec, list and gc workloads.
    func small() throws -> String {
        if let smallSource { return smallSource }
        let p = "\(work)/small"
        try makeDirectories(p + "/bin")
        try writeFile(p + "/bin/job.sh", Array("#!/bin/sh\nexit 0\n".utf8)[...], mode: 0o755)
        try writeFile(p + "/README", Array("a small tree\n".utf8)[...])
        smallSource = p
        return p
    }

    private var v1Path: String?
    private(set) var v1Bytes: Int64 = 0
    /// The generated tree, revision 1.
    func v1() throws -> String {
        if let v1Path { return v1Path }
        let p = "\(work)/v1"
        log("generating \(options.files) files in \(GeneratedTree(files: options.files).directories) directories")
        v1Bytes = try GeneratedTree(files: options.files).write(to: p)
        log("generated \(mib(Double(v1Bytes)))")
        v1Path = p
        return p
    }

    private var v2Path: String?
    /// Revision 2: a copy of revision 1 with 1% of its files rewritten.
    func v2() throws -> String {
        if let v2Path { return v2Path }
        let p = "\(work)/v2"
        try run(["cp", "-a", try v1(), p])
        let changed = try GeneratedTree(files: options.files).change(in: p)
        log("revision 2: \(changed) files changed")
        v2Path = p
        return p
    }

    private var sourcePath: String?
    private var sourceName = ""
    /// A real source tree: `git archive` of a Swift package from the
    /// machine's package copies, if there are any.
    func source() throws -> (path: String, name: String)? {
        if let sourcePath { return (sourcePath, sourceName) }
        let candidates = ["apple/swift-syntax.git", "apple/swift-nio.git", "apple/swift-protobuf.git",
                          "apple/swift-collections.git", "apple/swift-argument-parser.git"]
        let paths: [String] = candidates.map { "/opt/swift-packages/" + $0 }
        guard let repo = paths.first(where: { access($0, F_OK) == 0 }) else {
            return nil
        }
        let p = "\(work)/source"
        try makeDirectories(p)
        try run(shell("git -C \(q(repo)) archive --format=tar HEAD | tar -x -C \(q(p))"))
        sourcePath = p
        sourceName = String(repo.split(separator: "/").last ?? "")
        return (p, sourceName)
    }

    /// Compiles one of contrib/bench/floor/*.c with `cc -O2`.
    func compile(_ name: String, libraries: [String] = []) -> String? {
        guard onPath("cc") else {
            missing.append("cc (apt-get install gcc)")
            return nil
        }
        let out = "\(work)/\(name)"
        do {
            try run(["cc", "-O2", "-o", out, "\(repo)/contrib/bench/floor/\(name).c"] + libraries)
            return out
        } catch {
            log("cannot compile \(name).c: \(error)")
            return nil
        }
    }
}
