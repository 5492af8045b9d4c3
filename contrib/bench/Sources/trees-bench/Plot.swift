#if canImport(Glibc)
import Glibc
#endif

// The series as one hand-written SVG (no dependency, renders in a browser):
// a panel per series, size on a log x axis, the time of trees and of its
// peer on a log left axis, trees's peak RSS on a linear right axis with the
// 64 MiB bound dashed.

private let panelWidth = 560.0, panelHeight = 320.0
private let left = 84.0, right = 70.0, top = 40.0, bottom = 78.0
private let treesColor = "#1f6fb4", peerColor = "#e07b00", rssColor = "#2a9d3a", boundColor = "#c62828"

func svgPlot(_ series: [Series]) -> String {
    let columns = series.count > 1 ? 2 : 1
    let rowsCount = max(1, (series.count + columns - 1) / columns)
    let width = panelWidth * Double(columns), height = panelHeight * Double(rowsCount) + 30
    var out = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(n(width))" height="\(n(height))" viewBox="0 0 \(n(width)) \(n(height))" font-family="sans-serif" font-size="11">
        <rect width="100%" height="100%" fill="white"/>
        <text x="10" y="20" font-size="15" font-weight="bold">trees-bench: issue 18 scale series</text>

        """
    if series.isEmpty {
        out += "<text x=\"10\" y=\"45\">no series were measured (run with --only scale, cold or psscale)</text>\n"
    }
    for (k, s) in series.enumerated() {
        let x = Double(k % columns) * panelWidth, y = 30 + Double(k / columns) * panelHeight
        out += "<g transform=\"translate(\(n(x)),\(n(y)))\">\n" + panel(s) + "</g>\n"
    }
    return out + "</svg>\n"
}

/// Escapes text for XML ("cp -a && sync").
private func esc(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}

private func n(_ x: Double) -> String { fixed(x, 1) }

/// A log axis's range in decades, widened to half a decade each side of a single value.
private func logRange(_ values: [Double]) -> (Double, Double) {
    let logs = values.filter { $0 > 0 && $0.isFinite }.map { log10($0) }
    guard let lo = logs.min(), let hi = logs.max() else { return (0, 1) }
    return hi - lo < 0.2 ? (lo - 0.5, hi + 0.5) : (lo - 0.1, hi + 0.1)
}

/// Ticks at 1, 2 and 5 × 10^k inside [lo, hi] (decades); at every
/// multiple of 10^k when that leaves fewer than two.
private func logTicks(_ lo: Double, _ hi: Double) -> [Double] {
    let coarse = ticks(lo, hi, [1, 2, 5])
    return coarse.count >= 2 ? coarse : ticks(lo, hi, [1, 2, 3, 4, 5, 6, 7, 8, 9])
}

private func ticks(_ lo: Double, _ hi: Double, _ multiples: [Double]) -> [Double] {
    var ticks: [Double] = []
    for e in Int(lo.rounded(.down))...Int(hi.rounded(.up)) {
        for m in multiples {
            let v = m * pow(10, Double(e))
            if log10(v) >= lo && log10(v) <= hi { ticks.append(v) }
        }
    }
    return ticks
}

/// A time tick without the zeros `duration` keeps for a figure ("500 ms", "2 s").
private func tickLabel(_ seconds: Double) -> String {
    duration(seconds).replacingOccurrences(of: ".00 ", with: " ").replacingOccurrences(of: ".0 ", with: " ")
}

private func sizeLabel(_ v: Double) -> String {
    v >= 1e6 ? fixed(v / 1e6, v.truncatingRemainder(dividingBy: 1e6) == 0 ? 0 : 1) + "M"
        : v >= 1e3 ? fixed(v / 1e3, v.truncatingRemainder(dividingBy: 1e3) == 0 ? 0 : 1) + "k" : fixed(v, 0)
}

private func panel(_ s: Series) -> String {
    let w = panelWidth - left - right, h = panelHeight - top - bottom
    let sizes = s.points.map { Double($0.size) }
    let (x0, x1) = logRange(sizes)
    let times = s.points.flatMap { [$0.treesSeconds] + ($0.peerSeconds.map { [$0] } ?? []) }
    let (t0, t1) = logRange(times)
    let rssMax = max(rssBound * 1.25, (s.points.map(\.treesRSS).filter(\.isFinite).max() ?? 0) * 1.1)
    func px(_ v: Double) -> Double { left + (log10(v) - x0) / (x1 - x0) * w }
    func pyTime(_ v: Double) -> Double { top + h - (log10(v) - t0) / (t1 - t0) * h }
    func pyRSS(_ v: Double) -> Double { top + h - v / rssMax * h }

    var g = "<text x=\"\(n(left))\" y=\"22\" font-size=\"13\" font-weight=\"bold\">\(esc(s.label))</text>\n"
    g += "<rect x=\"\(n(left))\" y=\"\(n(top))\" width=\"\(n(w))\" height=\"\(n(h))\" fill=\"none\" stroke=\"#888\"/>\n"
    // x axis: the sizes measured, on a log scale.
    for v in Set(sizes).sorted() {
        g += "<line x1=\"\(n(px(v)))\" y1=\"\(n(top + h))\" x2=\"\(n(px(v)))\" y2=\"\(n(top + h + 4))\" stroke=\"#333\"/>"
        g += "<text x=\"\(n(px(v)))\" y=\"\(n(top + h + 16))\" text-anchor=\"middle\">\(sizeLabel(v))</text>\n"
    }
    g += "<text x=\"\(n(left + w / 2))\" y=\"\(n(top + h + 32))\" text-anchor=\"middle\">\(esc(s.unit)) (log scale)</text>\n"
    // Left axis: time, log scale.
    for v in logTicks(t0, t1) {
        g += "<line x1=\"\(n(left - 4))\" y1=\"\(n(pyTime(v)))\" x2=\"\(n(left + w))\" y2=\"\(n(pyTime(v)))\" stroke=\"#eee\"/>"
        g += "<text x=\"\(n(left - 6))\" y=\"\(n(pyTime(v) + 4))\" text-anchor=\"end\">\(esc(tickLabel(v)))</text>\n"
    }
    let ly = top + h / 2
    g += "<text transform=\"translate(12,\(n(ly))) rotate(-90)\" text-anchor=\"middle\">wall time (log scale)</text>\n"
    // Right axis: peak RSS in MiB, linear, with the bound.
    let step = rssMax > 256 * 1048576 ? 64.0 : 16.0
    var tick = 0.0
    while tick * 1048576 <= rssMax {
        let yv = pyRSS(tick * 1048576)
        g += "<line x1=\"\(n(left + w))\" y1=\"\(n(yv))\" x2=\"\(n(left + w + 4))\" y2=\"\(n(yv))\" stroke=\"\(rssColor)\"/>"
        g += "<text x=\"\(n(left + w + 6))\" y=\"\(n(yv + 4))\" fill=\"\(rssColor)\">\(fixed(tick, 0))</text>\n"
        tick += step
    }
    g += "<text transform=\"translate(\(n(panelWidth - 14)),\(n(ly))) rotate(90)\" text-anchor=\"middle\" fill=\"\(rssColor)\">trees peak RSS (MiB)</text>\n"
    let by = pyRSS(rssBound)
    g += "<line x1=\"\(n(left))\" y1=\"\(n(by))\" x2=\"\(n(left + w))\" y2=\"\(n(by))\" stroke=\"\(boundColor)\" stroke-dasharray=\"6,4\"/>\n"

    func line(_ values: [(Double, Double)], color: String, dash: Bool) -> String {
        let pts = values.filter { $0.1.isFinite }
        guard !pts.isEmpty else { return "" }
        var l = "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(dash ? " stroke-dasharray=\"2,3\"" : "") points=\""
        l += pts.map { "\(n($0.0)),\(n($0.1))" }.joined(separator: " ") + "\"/>\n"
        for p in pts { l += "<circle cx=\"\(n(p.0))\" cy=\"\(n(p.1))\" r=\"3\" fill=\"\(color)\"/>" }
        return l + "\n"
    }
    let sorted = s.points.sorted { $0.size < $1.size }
    g += line(sorted.filter { $0.treesSeconds > 0 }.map { (px(Double($0.size)), pyTime($0.treesSeconds)) }, color: treesColor, dash: false)
    g += line(sorted.compactMap { p in p.peerSeconds.flatMap { $0 > 0 ? (px(Double(p.size)), pyTime($0)) : nil } },
              color: peerColor, dash: false)
    g += line(sorted.filter { $0.treesRSS.isFinite }.map { (px(Double($0.size)), pyRSS($0.treesRSS)) }, color: rssColor, dash: true)

    // Legend, under the axis title.
    var entries = [("trees time", treesColor, ""), ("trees peak RSS", rssColor, "2,3"), ("64 MiB bound", boundColor, "6,4")]
    if let peer = s.peer { entries.insert(("\(peer) time", peerColor, ""), at: 1) }
    var lx = left
    var legendY = top + h + 50
    for (label, color, dash) in entries {
        if lx + 30 + Double(label.count) * 6 > panelWidth - 10 { lx = left; legendY += 16 }
        g += "<line x1=\"\(n(lx))\" y1=\"\(n(legendY))\" x2=\"\(n(lx + 18))\" y2=\"\(n(legendY))\" stroke=\"\(color)\" stroke-width=\"2\""
            + (dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"") + "/>"
        g += "<text x=\"\(n(lx + 22))\" y=\"\(n(legendY + 4))\">\(esc(label))</text>\n"
        lx += 30 + Double(label.count) * 6
    }
    return g
}
