/// One measured size of a series: trees's median time and largest peak RSS
/// beside the peer's (nil where the series has no peer).
struct Point {
    var size: Int
    var treesSeconds: Double
    var treesRSS: Double
    var peerSeconds: Double?
    var peerRSS: Double?
}

/// Issue 18's scale series: one operation measured at several sizes, for
/// the JSON and the plot (the table gets one row per size as well).
struct Series {
    var id: String          // stable, for scripts reading the JSON
    var label: String       // the plot's panel title
    var unit: String        // what `size` counts ("files", "processes")
    var peer: String?       // the peer's label, nil when there is none
    var points: [Point] = []
}

/// The peak RSS bound every scale series shares (issue 18).
let rssBound = 64.0 * 1048576

extension Bench {
    /// Adds `point` to the series `id`, creating it the first time.
    func record(_ id: String, label: String, unit: String, peer: String?, _ point: Point) {
        if let k = series.firstIndex(where: { $0.id == id }) {
            series[k].points.append(point)
        } else {
            series.append(Series(id: id, label: label, unit: unit, peer: peer, points: [point]))
        }
    }

    /// The point for trees's samples and, when given, a peer's: median
    /// wall time, largest peak RSS (wait4's ru_maxrss: for a `sh -c`
    /// pipeline, its largest process, since the shell waited for each).
    func point(_ size: Int, trees: [Sample], peer: [Sample]?) -> Point {
        Point(size: size, treesSeconds: median(trees.map(\.wall)), treesRSS: peakRSS(trees),
              peerSeconds: peer.map { median($0.map(\.wall)) }, peerRSS: peer.map(peakRSS))
    }
}

func peakRSS(_ samples: [Sample]) -> Double { samples.map { Double($0.peakRSS) }.max() ?? .nan }

func seriesJSON(_ series: [Series]) -> String {
    func optional(_ x: Double?) -> String { x.map(jsonNumber) ?? "null" }
    return series.map { s in
        let points = s.points.map { p in
            "{\"size\": \(p.size), \"trees_s\": \(jsonNumber(p.treesSeconds)), \"trees_peak_rss_bytes\": \(jsonNumber(p.treesRSS)), "
                + "\"peer_s\": \(optional(p.peerSeconds)), \"peer_peak_rss_bytes\": \(optional(p.peerRSS))}"
        }
        return "\n    {\"id\": \(jsonString(s.id)), \"label\": \(jsonString(s.label)), \"unit\": \(jsonString(s.unit)), "
            + "\"peer\": \(s.peer.map(jsonString) ?? "null"), \"points\": [\n      "
            + points.joined(separator: ",\n      ") + "\n    ]}"
    }.joined(separator: ",")
}
