/// Path-like words of a command line or environment, for the identity pass:
/// each argument, each environment value, an option's value after its `=`
/// (`--config=/x/c.ini`) and each `:`-separated piece (`PATH`), when it
/// holds a `/`. Nothing here is ever run; the words are only resolved.
enum ProcWords {
    private static let equals = UInt8(ascii: "=")
    private static let colon = UInt8(ascii: ":")

    /// The path-like words of a NUL-separated `cmdline`.
    static func inCommandLine(_ cmdline: [UInt8]) -> [ArraySlice<UInt8>] {
        var words: [ArraySlice<UInt8>] = []
        ProcBytes.forEachPiece(of: cmdline[...], separator: 0) { argument in
            // `--config=/x/c.ini` names a path after its `=` only.
            if argument.first == UInt8(ascii: "-"), let eq = argument.firstIndex(of: equals) {
                add(argument[(eq + 1)...], to: &words)
            } else {
                add(argument, to: &words)
            }
        }
        return words
    }

    /// The path-like words of the values of a NUL-separated `environ`.
    static func inEnvironment(_ environ: [UInt8]) -> [ArraySlice<UInt8>] {
        var words: [ArraySlice<UInt8>] = []
        ProcBytes.forEachPiece(of: environ[...], separator: 0) { entry in
            guard let eq = entry.firstIndex(of: equals) else { return }
            add(entry[(eq + 1)...], to: &words)
        }
        return words
    }

    private static func add(_ text: ArraySlice<UInt8>, to words: inout [ArraySlice<UInt8>]) {
        guard text.contains(ProcBytes.slash) else { return }
        ProcBytes.forEachPiece(of: text, separator: colon) { piece in
            if piece.contains(ProcBytes.slash) { words.append(piece) }
        }
    }
}
