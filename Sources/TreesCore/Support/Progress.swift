#if canImport(Glibc)
import Glibc
#endif

/// Progress of long file work (copy, extract, hash), reported by count.
public struct Progress: Sendable {
    public var phase: String
    public var files: Int64
    public var bytes: Int64
}

public typealias ProgressHandler = (Progress) -> Void
