/// Quotes user input for an error message so control characters stay visible.
func quoted(_ text: String) -> String {
    "'" + escaped(Array(text.utf8), quote: UInt8(ascii: "'")) + "'"
}

/// Renders bytes from outside (file names, symlink targets, argv) for one
/// line of output, so that nothing they hold can forge another line or
/// drive the terminal: printable UTF-8 is kept, a backslash is doubled, and
/// control characters (C0, DEL, C1, bidirectional controls, U+2028/9),
/// invalid UTF-8 and `quote` (when given)
/// become `\xNN` escapes (`\\` and `\'` for the backslash and quote). The
/// rendering is one-to-one, so two different names never print alike.
///
/// This is the one place that decides which bytes may reach a terminal:
/// names are rendered with it where they become text (`display`, `quoted`),
/// and every line a person reads passes it once more on its way out
/// (`neutralized`, through the command layer's `printLine`, tables and
/// error lines).
/// - Parameter keepingBackslashes: leave a backslash as it is (only for
///   `neutralized`, whose input may hold escapes made here already).
public func escaped(_ bytes: [UInt8], quote: UInt8? = nil, keepingBackslashes: Bool = false) -> String {
    var out = ""
    out.reserveCapacity(bytes.count)
    var i = 0
    func hex(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return "\\x" + String(digits[Int(b >> 4)]) + String(digits[Int(b & 15)])
    }
    while i < bytes.count {
        let b = bytes[i]
        if b < 0x80 {
            if b == 0x5c { out += keepingBackslashes ? "\\" : "\\\\" }
            else if let quote, b == quote { out += "\\" + String(UnicodeScalar(b)) }
            else if b < 0x20 || b == 0x7f { out += hex(b) }
            else { out.unicodeScalars.append(UnicodeScalar(b)) }
            i += 1
            continue
        }
        // One well-formed UTF-8 sequence (no overlongs, surrogates or > U+10FFFF).
        let length: Int
        if b >= 0xc2 && b <= 0xdf { length = 2 } else if b >= 0xe0 && b <= 0xef { length = 3 }
        else if b >= 0xf0 && b <= 0xf4 { length = 4 } else { length = 0 }
        var scalar: UnicodeScalar?
        if length > 0 && i + length <= bytes.count {
            var value = UInt32(b) & (length == 2 ? 0x1f : length == 3 ? 0x0f : 0x07)
            var ok = true
            for k in 1..<length {
                let c = bytes[i + k]
                if c & 0xc0 != 0x80 { ok = false; break }
                value = value << 6 | UInt32(c & 0x3f)
            }
            let minimum: UInt32 = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000
            if ok && value >= minimum, let s = UnicodeScalar(value) { scalar = s }
        }
        // C1 controls (U+0080–U+009F) act on terminals as ESC sequences do;
        // line and paragraph separators start a new line in some viewers, and
        // bidirectional overrides reorder what follows (a name that reads as
        // another): all are escaped byte by byte.
        if let scalar, !escapedScalars.contains(where: { $0.contains(scalar.value) }) {
            out.unicodeScalars.append(scalar)
            i += length
        } else if scalar != nil {
            for k in 0..<length { out += hex(bytes[i + k]) }
            i += length
        } else {
            out += hex(b)
            i += 1
        }
    }
    return out
}

/// Scalars beyond ASCII that are escaped: C1 controls, U+061C, U+200E–F,
/// U+2028–U+202E (separators, embeddings, overrides), U+2066–U+2069 (isolates).
private let escapedScalars: [ClosedRange<UInt32>] = [0x80...0x9f, 0x61c...0x61c, 0x200e...0x200f, 0x2028...0x202e, 0x2066...0x2069]

/// `text` made safe for one line a person reads: control characters (C0,
/// DEL, C1) become `\xNN` by `escaped`, everything else stays as it is, so
/// text escaped already (a `display`ed name, a `quoted` value) passes
/// unchanged and neutralizing twice is neutralizing once. Used on the way
/// out, where text from anywhere (a process's argv, a database row, a
/// message) is finally printed; raw bytes are rendered with `escaped`.
public func neutralized(_ text: String) -> String {
    escaped(Array(text.utf8), keepingBackslashes: true)
}
