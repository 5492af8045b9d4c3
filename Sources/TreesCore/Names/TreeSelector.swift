/// `NAME` or `NAME@REV`, as `trees exec`, `ps` and `lease` take it.
public struct TreeSelector: Hashable, Sendable, CustomStringConvertible {
    public let name: TreeName
    public let rev: Rev?

    public init(name: TreeName, rev: Rev?) {
        self.name = name
        self.rev = rev
    }

    public init(parsing text: String) throws {
        if text.contains("@") {
            let ref = try TreeRef(parsing: text)
            name = ref.name
            rev = ref.rev
        } else {
            name = try TreeName(text)
            rev = nil
        }
    }

    public var description: String { rev.map { "\(name)@\($0)" } ?? name.value }
}
