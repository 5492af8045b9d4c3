#if canImport(Glibc)
import Glibc
#endif

extension Bench {
    /// `trees exec NAME -- /bin/true` against floor/execfloor.c, which does
    /// the same work minimally (lease lock, one lease row, execv), and
    /// against `/bin/true` alone, on the same fresh root, alternated.
    func execAgainstFloor() throws {
        let operation = "exec NAME -- /bin/true vs its C floor"
        guard let execFloor else {
            rows.append(missingRow(operation, "fresh root", trees: nil, peer: "execfloor (cc, libsqlite3-dev)",
                                   package: "gcc libsqlite3-dev", target: "≤ 1.5× the floor, ≤ 3 ms over /bin/true"))
            return
        }
        let root = try freshExecRoot()
        let s = try alternate(options.quickRuns, [
            Contender(label: "trees exec", argv: { _ in [self.trees, "exec", "--root", root, "app", "--", "/bin/true"] }),
            Contender(label: "execfloor", argv: { _ in [execFloor, root, "app", "/bin/true"] }),
            Contender(label: "/bin/true", argv: { _ in ["/bin/true"] }),
        ])
        var row = ratioRow(operation, "fresh root", trees: s[0], peer: "execfloor.c", s[1],
                           limit: 1.5, target: "≤ 1.5× the floor, ≤ 3 ms over /bin/true")
        let t = median(s[0].map(\.wall)), bare = median(s[2].map(\.wall))
        let added = t - bare
        row.trees += ", +\(duration(added)) over /bin/true, \(mib(peakRSS(s[0]))) RSS"
        row.peer += ", \(mib(peakRSS(s[1]))) RSS"
        if added > 0.003 {
            row.met = false
            row.shortfall += (row.shortfall.isEmpty ? "" : "; ") + "+\(duration(added)) > 3 ms over /bin/true"
        }
        row.values["true_s"] = bare
        row.values["added_s"] = added
        row.values["trees_peak_rss_bytes"] = peakRSS(s[0])
        row.values["peer_peak_rss_bytes"] = peakRSS(s[1])
        rows.append(row)
    }
}
