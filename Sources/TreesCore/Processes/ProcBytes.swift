/// Byte-level helpers shared by the parsers above.
enum ProcBytes {
    static let slash = UInt8(ascii: "/")
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let newline = UInt8(ascii: "\n")
    private static let deletedSuffix = Array(" (deleted)".utf8)

    /// `[a-z0-9._-]`, the characters of a NAME.
    static func isNameByte(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b == 0x2e || b == 0x5f || b == 0x2d
    }

    /// `[A-Za-z0-9._+-]`, the characters of a REV.
    static func isRevByte(_ b: UInt8) -> Bool {
        isNameByte(b) || (b >= 0x41 && b <= 0x5a) || b == 0x2b
    }

    /// The kernel marks unlinked files and directories with ` (deleted)`.
    static func droppingDeletedSuffix(_ path: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        path.count > deletedSuffix.count && path.suffix(deletedSuffix.count).elementsEqual(deletedSuffix)
            ? path.dropLast(deletedSuffix.count) : path
    }

    /// Where `needle` first occurs in `haystack`.
    static func firstIndex(of needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Int? {
        guard let first = needle.first else { return nil }
        var from = haystack.startIndex
        while let hit = haystack[from...].firstIndex(of: first) {
            if haystack[hit...].starts(with: needle) { return hit }
            from = hit + 1
        }
        return nil
    }
}
