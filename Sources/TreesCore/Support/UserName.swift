#if canImport(Glibc)
import Glibc
#endif

/// Who is running this command, for the record (a verdict's "by"): the
/// user's name from the password database, or `uid N` when it has none.
public func invokingUser() -> String {
    let uid = getuid()
    var entry = passwd()
    var result: UnsafeMutablePointer<passwd>?
    var buffer = [CChar](repeating: 0, count: 4096)
    if getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, let result, let name = result.pointee.pw_name {
        return String(cString: name)
    }
    return "uid \(uid)"
}
