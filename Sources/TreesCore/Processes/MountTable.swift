/// The lines of a `/proc/PID/mountinfo` that the identity pass needs: which
/// directory of which filesystem each mount shows. A mount's root is the
/// path of the mounted directory (or file) *within its filesystem*, so a
/// bind mount of `ROOT/app/r1/lib` has root `.../app/r1/lib` wherever it is
/// mounted and in whichever namespace.
struct MountEntry: Equatable {
    /// Field 1: unique among the mounts that exist (across namespaces).
    var id: UInt64
    /// Field 3, `major:minor`, as `major << 32 | minor`: compared only
    /// with other mountinfo devices, never with `st_dev`.
    var device: UInt64
    /// Field 4, unescaped.
    var root: [UInt8]
    /// Field 5, unescaped: where it is mounted, in the reader's view.
    var mountPoint: [UInt8]
    /// The file system type after the ` - ` separator (`ext4`, `overlay`, `fuse.sshfs`).
    var fsType: [UInt8] = []
    /// The super block options as the kernel wrote them (octal escapes
    /// kept, so a `,` inside a path is `\054`), for an overlay only.
    var overlayOptions: [UInt8] = []

    /// `device` as the `st_dev` of its files.
    var deviceNumber: UInt64 { FileIdentity.deviceNumber(major: device >> 32, minor: device & 0xffff_ffff) }

    var isOverlay: Bool { fsType == Array("overlay".utf8) }

    /// The directories an overlay is made of (`lowerdir`, `upperdir`,
    /// `workdir`, `datadir+`), unescaped, as given when it was mounted.
    var overlayLayers: [[UInt8]] {
        guard isOverlay else { return [] }
        var layers: [[UInt8]] = []
        for raw in overlayOptions.split(separator: UInt8(ascii: ",")) {
            let option = MountTable.unescaped(raw)[...]
            guard let equals = option.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let key = String(decoding: option[..<equals], as: UTF8.self)
            guard ["lowerdir", "lowerdir+", "upperdir", "workdir", "datadir+"].contains(key) else { continue }
            for path in MountTable.split(option[(equals + 1)...], at: UInt8(ascii: ":")) where !path.isEmpty {
                layers.append(MountTable.droppingBackslashes(path))
            }
        }
        return layers
    }
}

enum MountTable {
    /// Parses mountinfo text; malformed lines are skipped.
    static func entries(_ text: [UInt8]) -> [MountEntry] {
        var result: [MountEntry] = []
        for line in text.split(separator: ProcBytes.newline) {
            let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count >= 5, let id = UInt64(decimal: fields[0]),
                  let colon = fields[2].firstIndex(of: UInt8(ascii: ":")),
                  let major = UInt64(decimal: fields[2][..<colon]),
                  let minor = UInt64(decimal: fields[2][(colon + 1)...]) else { continue }
            var entry = MountEntry(id: id, device: major << 32 | minor, root: unescaped(fields[3]), mountPoint: unescaped(fields[4]))
            if fields.count == 6, let tail = typeAndOptions(fields[5]) {
                entry.fsType = unescaped(tail.type)
                if entry.isOverlay { entry.overlayOptions = Array(tail.options) }
            }
            result.append(entry)
        }
        return result
    }

    /// `TYPE` and the super options from `OPTIONAL... - TYPE SOURCE OPTIONS`.
    private static func typeAndOptions(_ rest: ArraySlice<UInt8>) -> (type: ArraySlice<UInt8>, options: ArraySlice<UInt8>)? {
        let words = rest.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
        guard let dash = words.firstIndex(where: { $0.elementsEqual([UInt8(ascii: "-")]) }), words.count > dash + 1 else { return nil }
        return (words[dash + 1], words.count > dash + 3 ? words[dash + 3] : [])
    }

    /// Pieces of an option list split at `separator`, where a backslash
    /// escapes the next byte (overlay writes `\,` and `\:` in its paths).
    static func split(_ text: ArraySlice<UInt8>, at separator: UInt8) -> [ArraySlice<UInt8>] {
        var pieces: [ArraySlice<UInt8>] = []
        var start = text.startIndex, i = text.startIndex
        while i < text.endIndex {
            if text[i] == UInt8(ascii: "\\") {
                i = text.index(i, offsetBy: 2, limitedBy: text.endIndex) ?? text.endIndex
                continue
            }
            if text[i] == separator {
                pieces.append(text[start..<i])
                start = i + 1
            }
            i += 1
        }
        pieces.append(text[start..<text.endIndex])
        return pieces
    }

    /// Removes the backslashes that escape a byte in an option value.
    static func droppingBackslashes(_ text: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        var escaped = false
        for byte in text {
            if !escaped && byte == UInt8(ascii: "\\") { escaped = true; continue }
            escaped = false
            out.append(byte)
        }
        return out
    }

    /// Undoes the kernel's `\ooo` octal escapes (space, tab, newline, backslash).
    static func unescaped(_ field: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(field.count)
        var i = field.startIndex
        while i < field.endIndex {
            let byte = field[i]
            if byte == UInt8(ascii: "\\"), field.endIndex - i >= 4 {
                let digits = field[(i + 1)...(i + 3)]
                if digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x37 }) {
                    let value = digits.reduce(0) { $0 * 8 + Int($1 - 0x30) }
                    if value < 256 {
                        out.append(UInt8(value))
                        i += 4
                        continue
                    }
                }
            }
            out.append(byte)
            i += 1
        }
        return out
    }

    /// `path` with `prefix` removed when `path` lies at or below it (by
    /// whole components); nil otherwise. `/` is a prefix of every path.
    static func relative(_ path: [UInt8], below prefix: [UInt8]) -> ArraySlice<UInt8>? {
        if prefix == [ProcBytes.slash] { return path.first == ProcBytes.slash ? path[1...] : nil }
        guard path.count >= prefix.count, path.starts(with: prefix) else { return nil }
        if path.count == prefix.count { return path[path.endIndex...] }
        guard path[prefix.count] == ProcBytes.slash else { return nil }
        return path[(prefix.count + 1)...]
    }
}

extension UInt64 {
    /// Plain decimal digits only.
    init?(decimal bytes: ArraySlice<UInt8>) {
        guard !bytes.isEmpty, bytes.count < 20 else { return nil }
        var value: UInt64 = 0
        for byte in bytes {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            value = value * 10 + UInt64(byte - 0x30)
        }
        self = value
    }
}
