#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import TreesCore
#if canImport(Glibc)
import Glibc
#endif

/// Prints `value` as pretty JSON with sorted keys on stdout.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    let data = try encoder.encode(value)
    print(String(decoding: data, as: UTF8.self))
}

/// Prints rows as aligned columns under a header.
func printTable(_ header: [String], _ rows: [[String]]) {
    var widths = header.map(\.count)
    for row in rows {
        for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
    }
    func line(_ cells: [String]) -> String {
        var out = ""
        for (i, cell) in cells.enumerated() {
            if i == cells.count - 1 { out += cell } else {
                out += cell + String(repeating: " ", count: widths[i] - cell.count + 2)
            }
        }
        return out
    }
    print(line(header))
    for row in rows { print(line(row)) }
}

/// Human-readable byte counts (binary units).
func formatBytes(_ bytes: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
    if unit == 0 { return "\(bytes) B" }
    let tenths = Int((value * 10).rounded())
    return "\(tenths / 10).\(tenths % 10) \(units[unit])"
}

/// Shows progress of long work on stderr, only when stderr is a terminal,
/// only after the work has taken more than a moment, at most ten times a second.
final class TerminalProgress {
    let enabled = isatty(2) == 1
    let started = monotonicNow()
    var lastDraw = 0.0
    var drawn = false

    func update(_ p: Progress) {
        guard enabled else { return }
        let now = monotonicNow()
        guard now - started > 0.5, now - lastDraw > 0.1 else { return }
        lastDraw = now
        drawn = true
        writeStandardError("\r\u{1B}[K\(p.phase): \(p.files) files, \(formatBytes(p.bytes))")
    }

    func finish() {
        if drawn { writeStandardError("\r\u{1B}[K") }
    }

    var handler: ProgressHandler { { [self] in self.update($0) } }
}
