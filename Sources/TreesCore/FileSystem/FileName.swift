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

    /// A printable rendering for messages (invalid UTF-8 is replaced).
    var display: String { String(decoding: self, as: UTF8.self) }
}
