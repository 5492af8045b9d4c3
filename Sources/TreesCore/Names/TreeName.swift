/// The name of a code base, e.g. `importd`: `[a-z0-9][a-z0-9._-]{0,63}`.
public struct TreeName: Hashable, Sendable, Comparable, CustomStringConvertible, Encodable {
    public let value: String

    /// Validates `text`; throws `.badInput` (exit 65) when it is not a name.
    public init(_ text: String) throws {
        guard TreeName.isValid(text) else {
            throw TreesError(.badInput, "invalid name \(quoted(text))",
                             hint: "A name is 1-64 characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit.")
        }
        value = text
    }

    public static func isValid(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        for (i, b) in bytes.enumerated() {
            let lowerOrDigit = (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39)
            if i == 0 { if !lowerOrDigit { return false } }
            else if !(lowerOrDigit || b == 0x2e || b == 0x5f || b == 0x2d) { return false }
        }
        return true
    }

    public var description: String { value }
    public static func < (a: TreeName, b: TreeName) -> Bool { a.value < b.value }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(value)
    }
}
