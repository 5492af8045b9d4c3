/// Byte-level helpers shared by the parsers above.
enum ProcBytes {
    static let slash = UInt8(ascii: "/")
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let newline = UInt8(ascii: "\n")
    private static let deletedSuffix = Array(" (deleted)".utf8)

    /// The kernel marks unlinked files and directories with ` (deleted)`.
    static func droppingDeletedSuffix(_ path: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        path.count > deletedSuffix.count && path.suffix(deletedSuffix.count).elementsEqual(deletedSuffix)
            ? path.dropLast(deletedSuffix.count) : path
    }

    /// Calls `body` with each non-empty piece of `text` between
    /// `separator`s, as `split(separator:)` would give them, without
    /// building an array: a scan splits every environment and maps file.
    @inline(__always)
    static func forEachPiece(of text: ArraySlice<UInt8>, separator: UInt8, _ body: (ArraySlice<UInt8>) -> Void) {
        var start = text.startIndex
        while start < text.endIndex {
            let end = text[start...].firstIndex(of: separator) ?? text.endIndex
            if end > start { body(text[start..<end]) }
            start = end + 1
        }
    }

    /// The first line of `text` starting with `key`, without splitting it all.
    static func line(startingWith key: [UInt8], in text: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        var start = text.startIndex
        while start < text.endIndex {
            let end = text[start...].firstIndex(of: newline) ?? text.endIndex
            if text[start..<end].starts(with: key) { return text[start..<end] }
            start = end + 1
        }
        return nil
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
