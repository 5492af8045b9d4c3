#if canImport(Glibc)
import Glibc
#endif

extension Bench {
    // MARK: issue 18's scale series: install, verify, list --usage, gc delete

    /// At each --scale size: a generated tree of small files installed
    /// against `cp -a && sync`, then `verify` and `list --usage` of the
    /// installed tree, then `gc` deleting it against `rm -rf` of a synced copy.
    /// Every point is bound to 64 MiB peak RSS: trees must not hold a
    /// tree's file list in memory.
    func scale() throws {
        for files in options.scale { try scalePoint(files) }
    }

    private func scalePoint(_ files: Int) throws {
        // Three copies at most (source, kept root, a peer's copy), each a
        // 4 KiB block a file plus its directories: skip rather than fill the disk.
        var fs = statvfs()
        let need = Double(files) * 4.2 * 1024 * 3
        if statvfs(work, &fs) == 0, Double(fs.f_bavail) * Double(fs.f_frsize) < need {
            let free = Double(fs.f_bavail) * Double(fs.f_frsize)
            rows.append(Row(operation: "scale series", workload: "\(files) files", trees: "skipped: not enough disk",
                            peer: "needs \(fixed(need / 1e9, 1)) GB free in \(options.dir), has \(fixed(free / 1e9, 1)) GB",
                            ratio: "—", target: "", met: nil))
            return
        }
        let src = "\(work)/scale-\(files)"
        log("generating \(files) small files for the scale series")
        let bytes = try GeneratedTree(files: files, small: true).write(to: src)
        defer { try? remove(src) }
        let runs = options.scaleRuns(files)
        let workload = "\(files) files of 1–4 KiB, \(mib(Double(bytes)))"
        // The last timed install's root is kept for verify, list and gc,
        // rather than installing a large tree once more untimed.
        let kept = "\(work)/scale-root"
        try remove(kept)
        let s = try alternate(runs, [
            // The root's other tree is current, so the gc series below deletes app@r1 alone.
            installer("trees install", { src }, prefix: "sinst", prepareRoot: { root in
                try run([self.trees, "install", "--root", root, "seed@r0", try self.small(), "--activate"])
            }, inspect: { root, i in
                if i == runs - 1, rename(root, kept) != 0 { throw BenchError("rename \(root): \(String(cString: strerror(errno)))") }
            }),
            copier("cp -a && sync", { "cp -a \(q(src)) \(q($0)) && sync" }, prefix: "scp"),
        ])
        scaleRow("scale-install", "install a directory", size: files, workload: workload,
                 trees: s[0], peer: ("cp -a && sync", s[1]), limit: 1.0)

        let r = try alternate(runs, [
            Contender(label: "verify", argv: { _ in [self.trees, "verify", "--root", kept, "app@r1"] }),
            Contender(label: "list --usage", argv: { _ in [self.trees, "list", "--root", kept, "--usage"] }),
        ])
        scaleRow("scale-verify", "verify", size: files, workload: workload, trees: r[0], peer: nil, limit: nil)
        scaleRow("scale-list-usage", "list --usage", size: files, workload: workload, trees: r[1], peer: nil, limit: nil)

        let d = try alternate(runs, deleteContenders(src, prefix: "sdel", installed: { i in i == 0 ? kept : nil }))
        scaleRow("scale-delete", "delete one tree by gc", size: files, workload: workload,
                 trees: d[0], peer: ("rm -rf of a synced copy", d[1]), limit: 0.8)
    }

    /// One row and one series point: trees's median time and peak RSS
    /// beside the peer's; met when the time is within `limit` of the peer
    /// (if there is a time target) and the peak RSS within 64 MiB.
    func scaleRow(_ id: String, _ operation: String, size: Int, workload: String,
                  trees t: [Sample], peer: (label: String, samples: [Sample])?, limit: Double?, rssBounded: Bool = true) {
        let p = point(size, trees: t, peer: peer?.samples)
        let rssOK = !rssBounded || p.treesRSS <= rssBound
        var target = rssBounded ? "RSS ≤ 64 MiB" : ""
        var row: Row
        if let peer, let limit {
            target = "≤ \(fixed(limit, 1))× \(peer.label)" + (target.isEmpty ? "" : "; " + target)
            row = ratioRow(operation, workload, trees: t, peer: peer.label, peer.samples, limit: limit, target: target)
            row.peer += ", \(mib(p.peerRSS ?? .nan)) RSS"
        } else {
            row = Row(operation: operation, workload: workload, trees: duration(p.treesSeconds), peer: "—", ratio: "—",
                      target: target, met: true, values: ["trees_s": p.treesSeconds])
        }
        row.trees += ", \(mib(p.treesRSS)) RSS"
        row.values["trees_peak_rss_bytes"] = p.treesRSS
        if let r = p.peerRSS { row.values["peer_peak_rss_bytes"] = r }
        row.values["size"] = Double(size)
        if !rssOK {
            row.met = false
            row.shortfall += (row.shortfall.isEmpty ? "" : "; ") + "RSS \(mib(p.treesRSS)) > 64 MiB"
        }
        rows.append(row)
        record(id, label: operation, unit: "files", peer: peer?.label, p)
    }

    // MARK: install from a cold page cache

    /// The generated tree (--files) installed against `cp -a && sync` with
    /// the page cache dropped before every run of either, so both read the
    /// source (and load their binaries) from the disk. Needs root.
    func coldInstall() throws {
        let operation = "install a directory, cold page cache"
        guard getuid() == 0 else {
            rows.append(Row(operation: operation, workload: "\(options.files) files", trees: "skipped: not root",
                            peer: "dropping the page cache (/proc/sys/vm/drop_caches) needs root", ratio: "—",
                            target: "≤ 1.0×", met: nil))
            return
        }
        func dropCaches() throws { try run(shell("sync && echo 3 > /proc/sys/vm/drop_caches")) }
        do { try dropCaches() } catch {
            // Root in a container may still find /proc/sys read-only.
            rows.append(Row(operation: operation, workload: "\(options.files) files", trees: "skipped: cannot drop the page cache",
                            peer: "\(error)", ratio: "—", target: "≤ 1.0×", met: nil))
            return
        }
        let v1 = try v1()
        var trees = installer("trees install", { v1 }, prefix: "cold")
        let prepareRoot = trees.prepare
        trees.prepare = { i in try prepareRoot(i); try dropCaches() }
        var cp = copier("cp -a && sync", { "cp -a \(q(v1)) \(q($0)) && sync" }, prefix: "coldcp")
        cp.prepare = { _ in try dropCaches() }
        let s = try alternate(options.heavyRuns, [trees, cp])
        scaleRow("cold-install", operation, size: options.files,
                 workload: "\(options.files) files, \(mib(Double(v1Bytes))), caches dropped before each run",
                 trees: s[0], peer: ("cp -a && sync", s[1]), limit: 1.0, rssBounded: false)
    }
}
