/// maps(5): `address perms offset dev inode   path`.
enum ProcMaps {
    /// Calls `body` with the path, the file's identity (the line's device
    /// and inode: what the kernel maps, whatever the path spells) and the
    /// address range (`map_files/` names) of every file-backed mapping,
    /// once per run of lines that map the same file.
    static func forEachFile(in maps: [UInt8], _ body: (ArraySlice<UInt8>, FileIdentity?, ArraySlice<UInt8>) -> Void) {
        var previous: ArraySlice<UInt8> = []
        ProcBytes.forEachPiece(of: maps[...], separator: ProcBytes.newline) { line in
            let fields = fields(ofLine: line)
            guard let path = fields.path, path != previous else { return }
            previous = path
            body(path, identity(device: fields.device, inode: fields.inode), fields.range)
        }
    }

    /// The path of one line: everything after the fifth field, since a path
    /// may hold spaces. Nil for anonymous and `[heap]`-like mappings.
    static func path(ofLine line: ArraySlice<UInt8>) -> ArraySlice<UInt8>? { fields(ofLine: line).path }

    /// The five fields before the path, without building an array: a
    /// scan reads every line of every process's maps.
    private static func fields(ofLine line: ArraySlice<UInt8>)
        -> (range: ArraySlice<UInt8>, device: ArraySlice<UInt8>, inode: ArraySlice<UInt8>, path: ArraySlice<UInt8>?) {
        var i = line.startIndex
        func next() -> ArraySlice<UInt8> {
            let start = i
            while i < line.endIndex, line[i] != ProcBytes.space { i += 1 }
            let field = line[start..<i]
            while i < line.endIndex, line[i] == ProcBytes.space { i += 1 }
            return field
        }
        let range = next()
        _ = next()
        _ = next()
        let device = next(), inode = next()
        let path = i < line.endIndex && line[i] == ProcBytes.slash ? line[i...] : nil
        return (range, device, inode, path)
    }

    /// `fe:01` and `1234` as a `FileIdentity`; nil when malformed or 0:0.
    private static func identity(device: ArraySlice<UInt8>, inode: ArraySlice<UInt8>) -> FileIdentity? {
        guard let colon = device.firstIndex(of: UInt8(ascii: ":")),
              let major = hex(device[..<colon]), let minor = hex(device[(colon + 1)...]),
              let ino = UInt64(decimal: inode), major != 0 || minor != 0 else { return nil }
        return FileIdentity(device: FileIdentity.deviceNumber(major: major, minor: minor), inode: ino)
    }

    private static func hex(_ bytes: ArraySlice<UInt8>) -> UInt64? {
        guard !bytes.isEmpty, bytes.count <= 8 else { return nil }
        var value: UInt64 = 0
        for b in bytes {
            switch b {
            case 0x30...0x39: value = value << 4 | UInt64(b - 0x30)
            case 0x61...0x66: value = value << 4 | UInt64(b - 0x61 + 10)
            case 0x41...0x46: value = value << 4 | UInt64(b - 0x41 + 10)
            default: return nil
            }
        }
        return value
    }
}
