#if canImport(Glibc)
import Glibc
#endif

/// One line of the results: trees against one peer on one workload.
struct Row {
    var id = ""                // the operation's name for --only
    var operation: String
    var workload: String
    var trees: String          // the trees figure as printed (a median, a count)
    var peer: String           // "label: figure", or why there is none
    var ratio: String
    var target: String
    var met: Bool?             // nil: not judged (no peer, or a figure only)
    var shortfall = ""         // by how much a target was missed ("1.34× > 1.0×"), printed beside NO
    var values: [String: Double] = [:]   // raw figures for the JSON
}

func median(_ xs: [Double]) -> Double {
    guard !xs.isEmpty else { return .nan }
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func percentile(_ xs: [Double], _ p: Double) -> Double {
    guard !xs.isEmpty else { return .nan }
    let s = xs.sorted()
    return s[min(s.count - 1, Int((p * Double(s.count)).rounded(.up)) - 1)]
}

func fixed(_ x: Double, _ digits: Int) -> String {
    guard x.isFinite else { return "n/a" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let n = Int((abs(x) * scale).rounded())
    let whole = n / Int(scale), frac = n % Int(scale)
    var fracText = String(frac)
    while fracText.count < digits { fracText = "0" + fracText }
    return (x < 0 ? "-" : "") + String(whole) + (digits > 0 ? "." + fracText : "")
}

/// Seconds as a short human figure: "8.1 ms", "19.7 s".
func duration(_ s: Double) -> String {
    guard s.isFinite else { return "n/a" }
    return s < 1 ? fixed(s * 1000, s < 0.01 ? 2 : 1) + " ms" : fixed(s, 2) + " s"
}

func mib(_ bytes: Double) -> String { fixed(bytes / 1048576, 1) + " MiB" }

func printTable(_ rows: [Row]) {
    let header = ["operation", "workload", "trees", "peer", "ratio", "target", "met"]
    let cells = rows.map { r in [r.operation, r.workload, r.trees, r.peer, r.ratio, r.target,
                                 r.met.map { $0 ? "yes" : r.shortfall.isEmpty ? "NO" : "NO: " + r.shortfall } ?? "—"] }
    print("| " + header.joined(separator: " | ") + " |")
    print("|" + header.map { _ in " --- |" }.joined())
    for c in cells { print("| " + c.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |") }
}

func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 {
                let h = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}

func jsonNumber(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }

func writeJSON(_ rows: [Row], series: [Series], machine: [(String, String)], options: [(String, String)], to path: String) throws {
    var s = "{\n  \"machine\": {"
    s += machine.map { "\n    \(jsonString($0.0)): \(jsonString($0.1))" }.joined(separator: ",") + "\n  },\n"
    s += "  \"options\": {" + options.map { "\n    \(jsonString($0.0)): \(jsonString($0.1))" }.joined(separator: ",") + "\n  },\n"
    s += "  \"rows\": ["
    s += rows.map { r in
        var fields = [
            "\"id\": \(jsonString(r.id))", "\"operation\": \(jsonString(r.operation))", "\"workload\": \(jsonString(r.workload))",
            "\"trees\": \(jsonString(r.trees))", "\"peer\": \(jsonString(r.peer))",
            "\"ratio\": \(jsonString(r.ratio))", "\"target\": \(jsonString(r.target))",
            "\"met\": \(r.met.map { $0 ? "true" : "false" } ?? "null")", "\"shortfall\": \(jsonString(r.shortfall))",
        ]
        fields.append("\"values\": {" + r.values.sorted { $0.key < $1.key }
            .map { "\(jsonString($0.key)): \(jsonNumber($0.value))" }.joined(separator: ", ") + "}")
        return "\n    {" + fields.joined(separator: ", ") + "}"
    }.joined(separator: ",")
    s += "\n  ],\n  \"series\": [" + seriesJSON(series) + "\n  ]\n}\n"
    try writeFile(path, Array(s.utf8)[...])
}
