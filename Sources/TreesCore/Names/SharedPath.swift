/// A writable path declared for a code base (`trees shared NAME add PATH`):
/// it lives at `ROOT/NAME/shared/PATH` and each tree holds a symlink to it
/// at PATH. Relative, in plain components only (no empty, `.` or `..`
/// component, no leading `/`), so that neither the link in a tree nor the
/// place in `shared/` can ever name anything outside them; its first
/// component is none of the words trees keeps in `ROOT/NAME` (`current`,
/// `shared`) nor `.trees`, so a tree cannot mirror trees' own layout.
public struct SharedPath: Hashable, Sendable, Comparable, CustomStringConvertible, Encodable {
    public let value: String
    /// The components, in order (`lib/x/log` has three).
    public let components: [String]

    /// At most this many components: a link's target climbs one `..` per
    /// component, and a tree's own paths are bounded too (`TreeLimits`).
    public static let maxComponents = 32
    public static let maxBytes = 1024

    /// Validates `text`; throws `.badInput` (exit 65) when it is not a plain relative path.
    public init(_ text: String) throws {
        if let problem = SharedPath.problem(with: text) {
            throw TreesError(.badInput, "invalid shared path \(quoted(text)): \(problem)",
                             hint: "A shared path is relative to the tree, e.g. log or var/uploads: components separated by '/', none empty, '.' or '..', and it does not start with current, shared or .trees.")
        }
        value = text
        components = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    }

    /// Why `text` is refused, or nil when it is a valid shared path.
    static func problem(with text: String) -> String? {
        if text.isEmpty { return "it is empty" }
        if text.utf8.count > maxBytes { return "it is longer than \(maxBytes) bytes" }
        if text.hasPrefix("/") { return "it is absolute" }
        if text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            return "it holds a control character"
        }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count > maxComponents { return "it has more than \(maxComponents) components" }
        for part in parts {
            if part.isEmpty { return "it has an empty component" }
            if part == "." || part == ".." { return "it has a '\(part)' component" }
            if part.utf8.count > 255 { return "a component is longer than 255 bytes" }
        }
        if let first = parts.first.map(String.init), Rev.reserved.contains(first) || first == ".trees" {
            return "'\(first)' is trees' own name"
        }
        return nil
    }

    /// Whether `self` lies inside `other` (`logs/app` inside `logs`), or is it.
    public func isWithin(_ other: SharedPath) -> Bool {
        components.count >= other.components.count && Array(components.prefix(other.components.count)) == other.components
    }

    /// The target of the link placed at PATH in a tree at `ROOT/NAME/REV`:
    /// relative, from the link's directory up to `ROOT/NAME`, then down into
    /// `shared` (`lib/x/log` → `../../../shared/lib/x/log`), so that it holds
    /// wherever the root is mounted or bind-mounted.
    public var linkTarget: String {
        String(repeating: "../", count: components.count) + "shared/" + value
    }

    public var description: String { value }
    public static func < (a: SharedPath, b: SharedPath) -> Bool { a.value < b.value }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(value)
    }
}
