import Foundation

/// The series of earlier `--json` files, merged: points of the same series
/// id from every file, one per size (a later file's wins), in size order.
/// So a run too long to repeat (1,000,000 files) and a run of the smaller
/// sizes draw one growth curve.
func mergedSeries(_ paths: [String]) throws -> [Series] {
    var merged: [Series] = []
    for path in paths {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let list = object["series"] as? [[String: Any]] else {
            throw ReplotError(path: path, what: "no series array")
        }
        for s in list {
            guard let id = s["id"] as? String, let label = s["label"] as? String, let unit = s["unit"] as? String,
                  let points = s["points"] as? [[String: Any]] else { throw ReplotError(path: path, what: "a series without id, label, unit or points") }
            let k = merged.firstIndex { $0.id == id } ?? {
                merged.append(Series(id: id, label: label, unit: unit, peer: s["peer"] as? String))
                return merged.count - 1
            }()
            for p in points {
                guard let size = (p["size"] as? NSNumber)?.intValue, let t = (p["trees_s"] as? NSNumber)?.doubleValue,
                      let rss = (p["trees_peak_rss_bytes"] as? NSNumber)?.doubleValue else {
                    throw ReplotError(path: path, what: "a point without size, trees_s or trees_peak_rss_bytes")
                }
                let point = Point(size: size, treesSeconds: t, treesRSS: rss,
                                  peerSeconds: (p["peer_s"] as? NSNumber)?.doubleValue,
                                  peerRSS: (p["peer_peak_rss_bytes"] as? NSNumber)?.doubleValue)
                merged[k].points.removeAll { $0.size == size }
                merged[k].points.append(point)
            }
            merged[k].points.sort { $0.size < $1.size }
        }
    }
    return merged
}

struct ReplotError: Error, CustomStringConvertible {
    let path: String
    let what: String
    var description: String { "\(path): \(what)" }
}
