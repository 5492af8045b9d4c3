/// One revision of a code base, e.g. `r9921` or a git sha:
/// `[A-Za-z0-9][A-Za-z0-9._+-]{0,127}`, never `current`.
public struct Rev: Hashable, Sendable, CustomStringConvertible, Encodable {
    public let value: String

    public init(_ text: String) throws {
        guard Rev.isValid(text) else {
            throw TreesError(.badInput, "invalid revision \(quoted(text))",
                             hint: "A revision is 1-128 characters of A-Z, a-z, 0-9, '.', '_', '+' and '-', starting with a letter or digit, and is never 'current'.")
        }
        value = text
    }

    public static func isValid(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...128).contains(bytes.count), text != "current" else { return false }
        for (i, b) in bytes.enumerated() {
            let alnum = (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || (b >= 0x30 && b <= 0x39)
            if i == 0 { if !alnum { return false } }
            else if !(alnum || b == 0x2e || b == 0x5f || b == 0x2b || b == 0x2d) { return false }
        }
        return true
    }

    public var description: String { value }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(value)
    }
}
