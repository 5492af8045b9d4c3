/// One installed revision, written `NAME@REV`.
public struct TreeRef: Hashable, Sendable, CustomStringConvertible {
    public let name: TreeName
    public let rev: Rev

    public init(name: TreeName, rev: Rev) {
        self.name = name
        self.rev = rev
    }

    /// Parses `NAME@REV`; throws `.badInput` for anything else.
    public init(parsing text: String) throws {
        guard let at = text.firstIndex(of: "@") else {
            throw TreesError(.badInput, "expected NAME@REV, got \(quoted(text))")
        }
        name = try TreeName(String(text[..<at]))
        rev = try Rev(String(text[text.index(after: at)...]))
    }

    public var description: String { "\(name)@\(rev)" }
}
