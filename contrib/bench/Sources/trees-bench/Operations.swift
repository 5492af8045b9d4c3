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
        // Built through trees itself, four processes at a time (a lane per
        // thread; a name's revisions stay in one lane, in order). 10,000
        // trees and 100,000 jobs take several minutes on two busy cores.
        let lanes = 4
        let small = try small()
        log("installing \(options.trees) trees, \(lanes) at a time")
        let installs = (0..<options.trees).map { i in
            treesCommand("install", "--root", root, "svc\(i % names)@r\(i / names)", small, "--activate")
        }
        let badInstalls = Lanes((0..<lanes).map { l in installs.indices.filter { ($0 % names) % lanes == l }.map { installs[$0] } })
            .run(progress: "installs")
        if badInstalls > 0 { throw BenchError("\(badInstalls) of \(options.trees) trees failed to install") }
        log("running \(options.jobs) jobs, \(lanes) at a time")
        let badJobs = Lanes((0..<lanes).map { l in
            stride(from: l, to: options.jobs, by: lanes).map { j in
                self.treesCommand("exec", "--root", root, "svc\(j % names)", "--", "/bin/true")
            }
        }).run(progress: "jobs")
        if badJobs > 0 { throw BenchError("\(badJobs) of \(options.jobs) trees exec jobs failed") }
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
        row.values["trees_peak_rss_bytes"] = peakRSS(s[0])
        row.trees += ", \(mib(peakRSS(s[0]))) RSS"
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
        rows.append(Row(operation: "list --json", workload: work, trees: "\(duration(list)), \(mib(peakRSS(m[0]))) RSS",
                        peer: "—", ratio: "—", target: "≤ 50 ms without a /proc scan", met: list <= 0.050,
                        shortfall: list <= 0.050 ? "" : "\(duration(list)) > 50 ms",
                        values: ["trees_s": list, "trees_peak_rss_bytes": peakRSS(m[0])]))
        let gcLimit = 0.300 + scan
        rows.append(Row(operation: "gc --dry-run", workload: work, trees: "\(duration(gc)), \(mib(peakRSS(m[1]))) RSS",
                        peer: scan.isFinite ? "C floor scan: \(duration(scan))" : "C floor: no cc", ratio: "—",
                        target: "≤ 300 ms + one scan", met: scan.isFinite ? gc <= gcLimit : nil,
                        shortfall: scan.isFinite && gc > gcLimit ? "\(duration(gc)) > \(duration(gcLimit))" : "",
                        values: ["trees_s": gc, "floor_scan_s": scan, "trees_peak_rss_bytes": peakRSS(m[1])]))
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
        // Issue 18: decoding on one core, creating files on the other, past tar.
        rows.append(ratioRow("install .tar.gz", workload, trees: s[0], peer: "tar -xzf && sync", s[1],
                             limit: 0.9, target: "≤ 0.9×"))
        guard onPath("zstd") else {
            rows.append(missingRow("install .tar.zst", workload, trees: nil, peer: "tar --zstd -xf && sync",
                                   package: "zstd", target: "≤ 0.9×"))
            return
        }
        let zst = "\(work)/v1.tar.zst"
        if access(zst, F_OK) != 0 { try run(shell("tar --zstd -cf \(q(zst)) -C \(q(v1)) .")) }
        let z = try alternate(options.heavyRuns, [
            installer("trees install .tar.zst", { zst }, prefix: "tzst"),
            copier("tar --zstd -xf && sync", { "mkdir \(q($0)) && tar --zstd -xf \(q(zst)) -C \(q($0)) && sync" }, prefix: "tzstx"),
        ])
        rows.append(ratioRow("install .tar.zst", workload, trees: z[0], peer: "tar --zstd -xf && sync", z[1],
                             limit: 0.9, target: "≤ 0.9×"))
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
        let s = try alternate(options.heavyRuns, deleteContenders(v1, prefix: "del"))
        rows.append(ratioRow("delete one tree by gc", "\(options.files) files, \(mib(Double(v1Bytes)))",
                             trees: s[0], peer: "rm -rf of a synced copy", s[1], limit: 0.8, target: "≤ 0.8× (both cores)"))
    }

    /// `trees gc` deleting app@r1 (a copy of `source`, no longer current)
    /// against `rm -rf` of a synced copy of it. `installed(i)` may hand run
    /// i a root that already holds app@r1 (the scale series reuses the root
    /// it installed), saving a copy of a large tree; otherwise it is
    /// installed, untimed.
    func deleteContenders(_ source: String, prefix: String, installed: @escaping (Int) -> String? = { _ in nil }) -> [Contender] {
        [
            Contender(label: "trees gc",
                      prepare: { i in
                          let root = "\(self.work)/\(prefix)-\(i)"
                          if let given = installed(i) {
                              try self.remove(root)
                              guard rename(given, root) == 0 else { throw BenchError("rename \(given): \(String(cString: strerror(errno)))") }
                          } else {
                              _ = try self.fresh("\(prefix)-\(i)")
                              try run([self.trees, "install", "--root", root, "app@r1", source])
                          }
                          try run([self.trees, "install", "--root", root, "app@r2", try self.small(), "--activate"])
                      },
                      argv: { i in [self.trees, "gc", "--root", "\(self.work)/\(prefix)-\(i)", "--keep", "0", "--min-age", "0"] },
                      cleanup: { i in
                          let root = "\(self.work)/\(prefix)-\(i)"
                          if access("\(root)/app/r1", F_OK) == 0 { throw BenchError("gc kept app@r1") }
                          try self.remove(root)
                      },
                      environment: treesEnvironment),
            // The copy is synced before it is removed, as an installed tree
            // always is: an unsynced copy has no blocks allocated yet
            // (delayed allocation), and removing it measures nothing real.
            Contender(label: "rm -rf",
                      prepare: { i in
                          try run(["cp", "-a", source, "\(self.work)/\(prefix)-rm-\(i)"])
                          try run(["sync"])
                      },
                      argv: { i in ["rm", "-rf", "\(self.work)/\(prefix)-rm-\(i)"] }),
        ]
    }
}
