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

/// Prints one line a person reads on standard output. Every human-readable
/// line of every command goes out through here (or `printTable`, or
/// `printErrorLines` on standard error), neutralized by TreesCore's one
/// escaping function: whatever the line holds (a process's argv, a file
/// name, a database row) stays on that line and cannot drive the terminal.
/// JSON and the metrics text format have escaping rules of their own.
func printLine(_ line: String) {
    print(neutralized(line))
}

/// Writes lines a person reads on standard error, each neutralized as
/// `printLine` does, in one write.
func printErrorLines(_ lines: [String]) {
    writeStandardError(lines.map { neutralized($0) + "\n" }.joined())
}

/// Prints rows as aligned columns under a header.
func printTable(_ header: [String], _ rows: [[String]]) {
    // One line per row, whatever a cell holds: a process's argv or a file
    // name cannot start a line of its own or drive the terminal. Cells are
    // neutralized before they are measured, so the columns line up.
    let rows = rows.map { $0.map(neutralized) }
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
    printLine(line(header))
    for row in rows { printLine(line(row)) }
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

/// `{"name": …, "rev": …}` as ps and lease list print a tree.
struct TreeJSON: Encodable {
    let name: String
    let rev: String
    init(_ ref: TreeRef) {
        name = ref.name.value
        rev = ref.rev.value
    }
}
