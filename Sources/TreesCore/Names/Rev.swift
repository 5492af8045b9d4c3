/// One revision of a code base, e.g. `r9921` or a git sha:
/// `[A-Za-z0-9][A-Za-z0-9._+-]{0,127}`, never a word of `reserved`.
public struct Rev: Hashable, Sendable, CustomStringConvertible, Encodable {
    public let value: String

    public init(_ text: String) throws {
        guard Rev.isValid(text) else {
            throw TreesError(.badInput, "invalid revision \(quoted(text))",
                             hint: "A revision is 1-128 characters of A-Z, a-z, 0-9, '.', '_', '+' and '-', starting with a letter or digit, and is never 'current' or 'shared'.")
        }
        value = text
    }

    /// What trees itself keeps beside the trees in `ROOT/NAME`: the link to
    /// the active tree and the shared writable paths. Never a revision, so
    /// nothing that lists `ROOT/NAME` (gc, doctor, the /proc scan) takes
    /// either for a tree.
    public static let reserved: Set<String> = ["current", "shared"]

    public static func isValid(_ text: String) -> Bool {
        !reserved.contains(text) && NameBytes.matches(text.utf8, lengths: 1...128, start: NameBytes.isRevStart, rest: NameBytes.isRev)
    }

    public var description: String { value }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(value)
    }
}
