#if canImport(Glibc)
import Glibc
#endif

extension Substring {
    func trimmingPrefixSpaces() -> Substring { drop(while: { $0 == " " }) }
}
