#if canImport(Glibc)
import Glibc
#endif

extension Bench {
    /// A root with one small tree, app@r1, current.
    func smallRoot(_ name: String, revs: [String] = ["r1"]) throws -> String {
        let root = try fresh(name)
        for rev in revs {
            try run(treesCommand("install", "--root", root, "app@\(rev)", try small(), "--activate"))
        }
        return root
    }

    private var execRootStorage: String? { get { cache["execRoot"] } set { cache["execRoot"] = newValue } }

    func freshExecRoot() throws -> String {
        if let r = execRootStorage { return r }
        let r = try smallRoot("exec-root")
        execRootStorage = r
        return r
    }

    // MARK: exec

    func execRows(binary: String, label: String) throws -> [Sample] {
        let root = try freshExecRoot()
        let s = try alternate(options.quickRuns, [
            Contender(label: "trees exec", argv: { _ in [binary, "exec", "--root", root, "app", "--", "/bin/true"] }),
            Contender(label: "/bin/true", argv: { _ in ["/bin/true"] }),
        ])
        let t = median(s[0].map(\.wall)), p = median(s[1].map(\.wall))
        let rss = s[0].map { Double($0.peakRSS) }.max() ?? .nan
        let added = t - p
        rows.append(Row(operation: "exec NAME -- /bin/true\(label)", workload: "fresh root",
                        trees: "\(duration(t)), \(mib(rss)) RSS, \(duration(median(s[0].map(\.cpu)))) CPU",
                        peer: "/bin/true: \(duration(p))", ratio: "+" + duration(added),
                        target: "≤ 8 ms added; RSS ≤ 20 MiB", met: added <= 0.008 && rss <= 20 * 1048576,
                        values: ["trees_s": t, "peer_s": p, "added_s": added, "trees_peak_rss_bytes": rss,
                                 "trees_cpu_s": median(s[0].map(\.cpu))]))
        return s[0]
    }

    func exec() throws {
        _ = try execRows(binary: trees, label: "")
    }

    // MARK: aged root: exec after N jobs, list, gc --dry-run

    func aged() throws {
        let root = try fresh("aged-root")
        let names = min(20, options.trees)
        log("installing \(options.trees) trees")
        for i in 0..<options.trees {
            try run(treesCommand("install", "--root", root, "svc\(i % names)@r\(i / names)", try small(), "--activate"))
        }
        log("running \(options.jobs) jobs")
        for j in 0..<options.jobs {
            let s = try measure(treesCommand("exec", "--root", root, "svc\(j % names)", "--", "/bin/true"))
            if s.status != 0 { throw BenchError("trees exec failed (\(s.status)) after \(j) jobs") }
            if (j + 1) % 2000 == 0 { log("  \(j + 1) jobs") }
        }
        var st = stat()
        let wal = stat("\(root)/.trees/state.db-wal", &st) == 0 ? Double(st.st_size) : 0
        let freshRoot = try freshExecRoot()
        let s = try alternate(options.quickRuns, [
            Contender(label: "aged", argv: { _ in [self.trees, "exec", "--root", root, "svc0", "--", "/bin/true"] }),
            Contender(label: "fresh", argv: { _ in [self.trees, "exec", "--root", freshRoot, "app", "--", "/bin/true"] }),
        ])
        let workload = "\(options.trees) trees, after \(options.jobs) jobs (WAL \(fixed(wal / 1024, 0)) KiB)"
        var row = ratioRow("exec NAME -- /bin/true", workload, trees: s[0], peer: "same on a fresh root", s[1],
                           limit: 1.1, target: "the same as fresh (≤ 1.1×)")
        row.values["wal_bytes"] = wal
        // Two medians of a few ms differ by noise alone; half a millisecond is flat.
        if let m = row.values["trees_s"], let f = row.values["peer_s"], m - f <= 0.0005 { row.met = true }
        rows.append(row)

        // list and gc --dry-run against the floor's one /proc scan.
        let floorArgv: [String]? = floor.map { [$0, root] }
        var contenders = [
            Contender(label: "list", argv: { _ in [self.trees, "list", "--root", root, "--json"] },
                      environment: treesEnvironment),
            Contender(label: "gc --dry-run", argv: { _ in [self.trees, "gc", "--root", root, "--dry-run"] },
                      environment: treesEnvironment),
        ]
        if let floorArgv { contenders.append(Contender(label: "floor", argv: { _ in floorArgv })) }
        let m = try alternate(options.quickRuns, contenders)
        let list = median(m[0].map(\.wall)), gc = median(m[1].map(\.wall))
        let scan = m.count > 2 ? median(m[2].map(\.wall)) : .nan
        let work = "\(options.trees) trees, \(options.jobs) lease rows"
        rows.append(Row(operation: "list --json", workload: work, trees: duration(list), peer: "—", ratio: "—",
                        target: "≤ 50 ms without a /proc scan", met: list <= 0.050, values: ["trees_s": list]))
        rows.append(Row(operation: "gc --dry-run", workload: work, trees: duration(gc),
                        peer: scan.isFinite ? "C floor scan: \(duration(scan))" : "C floor: no cc", ratio: "—",
                        target: "≤ 300 ms + one scan", met: scan.isFinite ? gc <= 0.300 + scan : nil,
                        values: ["trees_s": gc, "floor_scan_s": scan]))
    }

    // MARK: ps on a busy host

    func ps() throws {
        guard let hold else {
            rows.append(Row(operation: "ps --json", workload: "host", trees: "—", peer: "needs cc", ratio: "—",
                            target: "", met: nil))
            return
        }
        let src = "\(work)/host-src"
        try makeDirectories(src + "/bin")
        try makeDirectories(src + "/lib")
        try run(["cp", hold, src + "/bin/hold"])
        try writeFile(src + "/lib/f0", Array(repeating: 65, count: 4096)[...])
        try writeFile(src + "/job.py", Array("print('job')\n".utf8)[...])
        let root = try fresh("host-root")
        let treeCount = 20
        for k in 0..<treeCount { try run(treesCommand("install", "--root", root, "app@r\(k)", src, "--activate")) }

        var planted: [pid_t] = []
        var users = Set<pid_t>()
        defer {
            for p in planted { kill(p, SIGKILL) }
            for p in planted { _ = reap(p) }
        }
        let kinds = ["cwd", "fd", "exe", "maps", "environ", "cmdline", "lease"]
        let userCount = options.processes / 3
        log("planting \(options.processes) processes, \(userCount) of them using a tree")
        for i in 0..<options.processes {
            var argv = [hold]
            var env: [String: String] = [:]
            var isUser = false
            if i < userCount {
                isUser = true
                let tree = "\(root)/app/r\((i / kinds.count) % treeCount)"
                let ref = "app@r\((i / kinds.count) % treeCount)"
                switch kinds[i % kinds.count] {
                case "cwd": argv += ["-c", tree]
                case "fd": argv += ["-o", tree + "/lib/f0"]
                case "exe": argv = [tree + "/bin/hold"]
                case "maps": argv += ["-m", tree + "/lib/f0"]
                case "environ": env = ["TREES_TREE": ref, "TREES_ROOT": root]
                case "cmdline": argv += [tree + "/job.py"]
                default: argv = [trees, "exec", "--root", root, "--no-chdir", ref, "--", hold]
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
        let workload = "\(treeCount) trees, \(options.processes) extra processes"
        if let floorIndex {
            rows.append(ratioRow("ps --json", workload, trees: s[0], peer: "C floor", s[floorIndex],
                                 limit: 1.0, target: "≤ 1.0× the floor"))
        } else {
            rows.append(missingRow("ps --json", workload, trees: s[0], peer: "C floor", package: "gcc", target: "≤ 1.0× the floor"))
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
    }

    // MARK: installs

    /// A contender that installs `source` as app@REV into a new root each run.
    func installer(_ label: String, _ source: @escaping () throws -> String, prefix: String, rev: String = "r1",
                   prepareRoot: ((String) throws -> Void)? = nil, inspect: ((String, Int) throws -> Void)? = nil) -> Contender {
        let trees = self.trees
        return Contender(label: label,
                         prepare: { i in
                             let root = try self.fresh("\(prefix)-\(i)")
                             if let prepareRoot {
                                 try prepareRoot(root)
                             } else {
                                 // A root in use, as on any host after its first rollout: its
                                 // database exists. A tree of another name shares no file with
                                 // app (dedup links within a name), so the timed install copies all.
                                 _ = try run(self.treesCommand("install", "--root", root, "seed@r0", try self.small()))
                             }
                         },
                         argv: { i in [trees, "install", "--root", "\(self.work)/\(prefix)-\(i)", "app@\(rev)", (try? source()) ?? ""] },
                         cleanup: { i in
                             try inspect?("\(self.work)/\(prefix)-\(i)", i)
                             try self.remove("\(self.work)/\(prefix)-\(i)")
                         })
    }

    func copier(_ label: String, _ script: @escaping (String) -> String, prefix: String) -> Contender {
        Contender(label: label, argv: { i in shell(script("\(self.work)/\(prefix)-\(i)")) },
                  cleanup: { i in try self.remove("\(self.work)/\(prefix)-\(i)") })
    }

    var fullInstall: [Sample]? { get { samplesCache["full"] } set { samplesCache["full"] = newValue } }

    func install() throws {
        let v1 = try v1()
        let workload = "\(options.files) files, \(mib(Double(v1Bytes)))"
        let hasRsync = onPath("rsync")
        var contenders = [
            installer("trees install", { v1 }, prefix: "inst"),
            copier("cp -a && sync", { "cp -a \(q(v1)) \(q($0)) && sync" }, prefix: "cp"),
            copier("cp -a", { "cp -a \(q(v1)) \(q($0))" }, prefix: "cpn"),
        ]
        if hasRsync { contenders.append(copier("rsync -a && sync", { "rsync -a \(q(v1))/ \(q($0))/ && sync" }, prefix: "rs")) }
        let s = try alternate(options.heavyRuns, contenders)
        fullInstall = s[0]
        let cp = s[1], rs = hasRsync ? s[3] : nil
        let best = rs.map { median($0.map(\.wall)) < median(cp.map(\.wall)) ? ("rsync -a && sync", $0) : ("cp -a && sync", cp) }
            ?? ("cp -a && sync", cp)
        rows.append(ratioRow("install a directory", workload, trees: s[0], peer: best.0, best.1,
                             limit: 1.0, target: "≤ 1.0× the faster durable peer"))
        if !hasRsync { missing.append("rsync (apt-get install rsync)") }
        rows.append(ratioRow("install a directory", workload, trees: s[0], peer: "cp -a (not durable)", s[2],
                             limit: 1.2, target: "≤ 1.2× plain cp -a"))

        if let (src, name) = try source() {
            let t = try alternate(options.heavyRuns, [
                installer("trees install", { src }, prefix: "srci"),
                copier("cp -a && sync", { "cp -a \(q(src)) \(q($0)) && sync" }, prefix: "srccp"),
            ])
            let (_, total) = ownAndTotalBytes(src)
            rows.append(ratioRow("install a directory", "source tree: git archive of \(name), \(mib(Double(total)))",
                                 trees: t[0], peer: "cp -a && sync", t[1], limit: 1.0, target: "≤ 1.0× the durable peer"))
        } else {
            rows.append(Row(operation: "install a directory", workload: "source tree", trees: "—",
                            peer: "no package copies in /opt/swift-packages", ratio: "—", target: "", met: nil))
        }
    }

    func archive() throws {
        let v1 = try v1()
        let workload = "\(options.files) files, \(mib(Double(v1Bytes)))"
        let gz = "\(work)/v1.tar.gz"
        if access(gz, F_OK) != 0 { try run(shell("tar -czf \(q(gz)) -C \(q(v1)) .")) }
        let s = try alternate(options.heavyRuns, [
            installer("trees install .tar.gz", { gz }, prefix: "tgz"),
            copier("tar -xzf && sync", { "mkdir \(q($0)) && tar -xzf \(q(gz)) -C \(q($0)) && sync" }, prefix: "tgzx"),
        ])
        rows.append(ratioRow("install .tar.gz", workload, trees: s[0], peer: "tar -xzf && sync", s[1],
                             limit: 1.2, target: "≤ 1.2×"))
        guard onPath("zstd") else {
            rows.append(missingRow("install .tar.zst", workload, trees: nil, peer: "tar --zstd -xf && sync",
                                   package: "zstd", target: "≤ 1.2×"))
            return
        }
        let zst = "\(work)/v1.tar.zst"
        if access(zst, F_OK) != 0 { try run(shell("tar --zstd -cf \(q(zst)) -C \(q(v1)) .")) }
        let z = try alternate(options.heavyRuns, [
            installer("trees install .tar.zst", { zst }, prefix: "tzst"),
            copier("tar --zstd -xf && sync", { "mkdir \(q($0)) && tar --zstd -xf \(q(zst)) -C \(q($0)) && sync" }, prefix: "tzstx"),
        ])
        rows.append(ratioRow("install .tar.zst", workload, trees: z[0], peer: "tar --zstd -xf && sync", z[1],
                             limit: 1.2, target: "≤ 1.2×"))
    }

    func reinstall() throws {
        let v1 = try v1()
        let root = try fresh("re-root")
        try run(treesCommand("install", "--root", root, "app@r1", v1))
        let s = try alternate(options.heavyRuns, [
            Contender(label: "re-install", argv: { _ in [self.trees, "install", "--root", root, "app@r1", v1] }),
            installer("full install", { v1 }, prefix: "refull"),
        ])
        var row = ratioRow("re-install identical content", "\(options.files) files, \(mib(Double(v1Bytes)))",
                           trees: s[0], peer: "full install", s[1], limit: 0.3, target: "≤ 0.3×, nothing written")
        let written = median(s[0].map { Double($0.writtenBytes) })
        row.trees += ", \(mib(written)) written"
        row.values["trees_written_bytes"] = written
        // "Nothing written": no tree data; the database may record the attempt.
        row.met = (row.met ?? false) && written <= 1048576
        rows.append(row)
    }

    func revision() throws {
        let v1 = try v1(), v2 = try v2()
        let workload = "\(options.files) files, 1% changed"
        var extra: (own: Int64, total: Int64)?
        var contenders = [
            installer("trees install r2 beside r1", { v2 }, prefix: "rev", rev: "r2",
                      prepareRoot: { root in try run([self.trees, "install", "--root", root, "app@r1", v1]) },
                      inspect: { root, i in if i == 0 { extra = ownAndTotalBytes("\(root)/app/r2") } }),
            installer("full install", { v2 }, prefix: "revfull", rev: "r2"),
        ]
        let prev = "\(work)/rev-prev"
        var rsyncIndex: Int?, ostreeIndex: Int?
        if onPath("rsync") {
            if access(prev, F_OK) != 0 { try run(["cp", "-a", v1, prev]) }
            rsyncIndex = contenders.count
            contenders.append(copier("rsync --link-dest", { "rsync -a --link-dest=\(q(prev)) \(q(v2))/ \(q($0))/ && sync" },
                                     prefix: "revrs"))
        }
        if onPath("ostree") {
            ostreeIndex = contenders.count
            let mode = getuid() == 0 ? "bare" : "bare-user"
            let checkoutFlags = getuid() == 0 ? "-H" : "-U -H"
            contenders.append(Contender(
                label: "ostree",
                prepare: { i in
                    let repo = try self.fresh("ostree-\(i)")
                    try run(["ostree", "--repo=\(repo)", "init", "--mode=\(mode)"])
                    try run(["ostree", "--repo=\(repo)", "commit", "-b", "app", "--tree=dir=\(v1)"])
                },
                argv: { i in
                    let repo = "\(self.work)/ostree-\(i)"
                    return shell("ostree --repo=\(q(repo)) commit -b app --tree=dir=\(q(v2)) >/dev/null && ostree --repo=\(q(repo)) checkout \(checkoutFlags) app \(q(repo + "-co"))")
                },
                cleanup: { i in
                    try self.remove("\(self.work)/ostree-\(i)")
                    try self.remove("\(self.work)/ostree-\(i)-co")
                }))
        }
        let s = try alternate(options.heavyRuns, contenders)
        rows.append(ratioRow("install a revision, 1% changed", workload, trees: s[0], peer: "full install", s[1],
                             limit: 0.25, target: "≤ 0.25× full"))
        if let i = rsyncIndex {
            rows.append(ratioRow("install a revision, 1% changed", workload, trees: s[0], peer: "rsync -a --link-dest=PREV && sync",
                                 s[i], limit: 1.0, target: "≤ 1.0× rsync"))
        } else {
            rows.append(missingRow("install a revision, 1% changed", workload, trees: s[0], peer: "rsync --link-dest",
                                   package: "rsync", target: "≤ 1.0× rsync"))
        }
        if let i = ostreeIndex {
            rows.append(ratioRow("install a revision, 1% changed", workload, trees: s[0], peer: "ostree commit + checkout -H",
                                 s[i], limit: 0.35, target: "≤ 0.35× OSTree"))
        } else {
            rows.append(missingRow("install a revision, 1% changed", workload, trees: s[0], peer: "OSTree commit + checkout -H",
                                   package: "ostree", target: "≤ 0.35× OSTree"))
        }
        if let extra {
            let share = Double(extra.own) / Double(max(1, extra.total))
            rows.append(Row(operation: "install a revision, 1% changed: extra disk", workload: workload,
                            trees: "\(mib(Double(extra.own))) of \(mib(Double(extra.total))) (\(fixed(share * 100, 1))%)",
                            peer: "—", ratio: "—", target: "≤ 5% of the tree", met: share <= 0.05,
                            values: ["own_bytes": Double(extra.own), "tree_bytes": Double(extra.total)]))
        }
    }

    // MARK: delete

    func delete() throws {
        let v1 = try v1()
        let s = try alternate(options.heavyRuns, [
            Contender(label: "trees gc",
                      prepare: { i in
                          let root = try self.fresh("del-\(i)")
                          try run([self.trees, "install", "--root", root, "app@r1", v1])
                          try run([self.trees, "install", "--root", root, "app@r2", try self.small(), "--activate"])
                      },
                      argv: { i in [self.trees, "gc", "--root", "\(self.work)/del-\(i)", "--keep", "0", "--min-age", "0"] },
                      cleanup: { i in
                          let root = "\(self.work)/del-\(i)"
                          if access("\(root)/app/r1", F_OK) == 0 { throw BenchError("gc kept app@r1") }
                          try self.remove(root)
                      },
                      environment: treesEnvironment),
            // The copy is synced before it is removed, as an installed tree
            // always is: an unsynced copy has no blocks allocated yet
            // (delayed allocation), and removing it measures nothing real.
            Contender(label: "rm -rf",
                      prepare: { i in
                          try run(["cp", "-a", v1, "\(self.work)/rm-\(i)"])
                          try run(["sync"])
                      },
                      argv: { i in ["rm", "-rf", "\(self.work)/rm-\(i)"] }),
        ])
        rows.append(ratioRow("delete one tree by gc", "\(options.files) files, \(mib(Double(v1Bytes)))",
                             trees: s[0], peer: "rm -rf of a synced copy", s[1], limit: 1.2, target: "≤ 1.2×"))
    }
}
