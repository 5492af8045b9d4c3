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

/// Quotes user input for an error message so control characters stay visible.
func quoted(_ text: String) -> String {
    var out = "'"
    for scalar in text.unicodeScalars {
        switch scalar {
        case "'": out += "\\'"
        case "\\": out += "\\\\"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7f {
                out += "\\x" + String(scalar.value, radix: 16)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "'"
}
