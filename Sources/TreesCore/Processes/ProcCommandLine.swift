/// Small readers of `cmdline` and `status`.
enum ProcCommandLine {
    /// The arguments joined by spaces, or `[comm]` for a process without any.
    static func display(_ cmdline: [UInt8], comm: String?) -> String {
        let arguments = cmdline.split(separator: 0)
        if arguments.isEmpty { return "[\(comm ?? "?")]" }
        return arguments.map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
    }

    /// The real uid: the first number of the `Uid:` line of `status`.
    static func realUID(status: [UInt8]) -> UInt32? {
        let key = Array("Uid:".utf8)
        guard let line = ProcBytes.line(startingWith: key, in: status[...]) else { return nil }
        let rest = line.dropFirst(key.count).drop(while: { $0 == ProcBytes.space || $0 == ProcBytes.tab })
        let digits = rest.prefix(while: { $0 >= 0x30 && $0 <= 0x39 })
        return UInt64(decimal: digits).flatMap { UInt32(exactly: $0) }
    }
}
