#if canImport(Glibc)
import Glibc
#endif

/// Why a process counts as running from a tree, in the order `trees ps` lists them.
public enum EvidenceKind: String, Sendable, Encodable, CaseIterable, Comparable {
    case lease, exe, cwd, root, fd, maps, environ, cmdline, cgroup
    /// Held by the kernel rather than a process (`KernelHold`).
    case mount, loop, swap

    public static func < (a: EvidenceKind, b: EvidenceKind) -> Bool { a.rank < b.rank }
    private var rank: Int { EvidenceKind.allCases.firstIndex(of: self) ?? 0 }
}
