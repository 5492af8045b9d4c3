#if canImport(Glibc)
import Glibc
#endif

/// A file name as the kernel sees it: bytes, not necessarily UTF-8.
public typealias FileName = [UInt8]

extension Array where Element == UInt8 {
    /// Calls `body` with a NUL-terminated copy of these bytes.
    func withCName<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        var copy = self
        copy.append(0)
        return try copy.withUnsafeBufferPointer { buf in
            try buf.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buf.count) { try body($0) }
        }
    }

    /// A one-line rendering for messages and output: control characters
    /// and invalid UTF-8 are escaped (`\\x1b`, `\\xff`), so a name can
    /// neither forge a line nor collapse into another name's rendering.
    var display: String { escaped(self) }

    /// The bytes of a NUL-terminated C string, exactly (no UTF-8 repair:
    /// `String(cString:)` would turn invalid bytes into U+FFFD and make two
    /// different names one).
    init(cString: UnsafePointer<CChar>) {
        let length = strlen(cString)
        self = cString.withMemoryRebound(to: UInt8.self, capacity: length) {
            [UInt8](UnsafeBufferPointer(start: $0, count: length))
        }
    }
}
