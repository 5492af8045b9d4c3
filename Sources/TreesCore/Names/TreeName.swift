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
        NameBytes.matches(text.utf8, lengths: 1...64, start: NameBytes.isNameStart, rest: NameBytes.isName)
    }

    public var description: String { value }
    public static func < (a: TreeName, b: TreeName) -> Bool { a.value < b.value }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(value)
    }
}
