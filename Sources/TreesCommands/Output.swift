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
    // One line per row, whatever a cell holds: a process's argv or a file
    // name cannot start a line of its own or drive the terminal.
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

/// `{"name": …, "rev": …}` as ps and lease list print a tree.
struct TreeJSON: Encodable {
    let name: String
    let rev: String
    init(_ ref: TreeRef) {
        name = ref.name.value
        rev = ref.rev.value
    }
}

/// `text` with every control character (C0, DEL, C1) shown as `\xNN`. Text
/// already escaped (`escaped`, `quoted`) passes unchanged.
func neutralized(_ text: String) -> String {
    func isControl(_ u: Unicode.Scalar) -> Bool { u.value < 0x20 || (0x7f...0x9f).contains(u.value) }
    guard text.unicodeScalars.contains(where: isControl) else { return text }
    var out = ""
    for u in text.unicodeScalars {
        if isControl(u) {
            let digits = Array("0123456789abcdef")
            out += "\\x" + String(digits[Int(u.value >> 4)]) + String(digits[Int(u.value & 15)])
        } else {
            out.unicodeScalars.append(u)
        }
    }
    return out
}
