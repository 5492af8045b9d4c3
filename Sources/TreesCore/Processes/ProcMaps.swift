/// maps(5): `address perms offset dev inode   path`.
enum ProcMaps {
    /// Calls `body` with the path of every file-backed mapping, once per run
    /// of lines that map the same file (the usual layout).
    static func forEachPath(in maps: [UInt8], _ body: (ArraySlice<UInt8>) -> Void) {
        var previous: ArraySlice<UInt8> = []
        ProcBytes.forEachPiece(of: maps[...], separator: ProcBytes.newline) { line in
            guard let path = path(ofLine: line), path != previous else { return }
            previous = path
            body(path)
        }
    }

    /// The path of one line: everything after the fifth field, since a path
    /// may hold spaces. Nil for anonymous and `[heap]`-like mappings.
    static func path(ofLine line: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        var i = line.startIndex
        for _ in 0..<5 {
            while i < line.endIndex, line[i] != ProcBytes.space { i += 1 }
            while i < line.endIndex, line[i] == ProcBytes.space { i += 1 }
        }
        guard i < line.endIndex, line[i] == ProcBytes.slash else { return nil }
        return line[i...]
    }
}
