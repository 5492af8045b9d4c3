/// One line of mountinfo(5), as much of it as trees needs.
struct MountInfoEntry {
    /// The root of the mount within its filesystem (`/` for a whole filesystem).
    var root: String
    var mountPoint: String
    var fileSystemType: String
    /// Per-mount options and superblock options together, split at commas.
    var options: [Substring]

    /// Parses every well-formed line of a mountinfo text:
    /// `id parent dev root mountpoint options [optional...] - fstype source superoptions`.
    static func parse(_ info: [UInt8]) -> [MountInfoEntry] {
        var entries: [MountInfoEntry] = []
        for line in info.split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: UInt8(ascii: " "))
            guard let dash = fields.firstIndex(where: { $0.elementsEqual("-".utf8) }), dash >= 6,
                  dash + 3 < fields.count else { continue }
            let options = String(decoding: fields[5] + [UInt8(ascii: ",")] + fields[dash + 3], as: UTF8.self)
            entries.append(MountInfoEntry(
                root: unescape(fields[3]), mountPoint: unescape(fields[4]),
                fileSystemType: String(decoding: fields[dash + 1], as: UTF8.self),
                options: options.split(separator: ",")))
        }
        return entries
    }

    /// mountinfo escapes space, tab, newline and backslash as `\ooo`.
    static func unescape(_ field: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        var i = field.startIndex
        while i < field.endIndex {
            if field[i] == UInt8(ascii: "\\"), field.endIndex - i >= 4,
               let value = UInt8(String(decoding: field[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                out.append(value)
                i += 4
            } else {
                out.append(field[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
