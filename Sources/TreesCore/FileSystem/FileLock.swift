#if canImport(Glibc)
import Glibc
#endif

/// Takes an advisory lock (`flock`) on an open file, retrying EINTR.
/// Returns false when `wait` is false and someone else holds it.
func lockFile(_ fd: Int32, exclusive: Bool = true, wait: Bool, path: String) throws -> Bool {
    var op = exclusive ? LOCK_EX : LOCK_SH
    if !wait { op |= LOCK_NB }
    let rc = retryingEINTR { flock(fd, op) }
    if rc == 0 { return true }
    let err = errno
    if err == EWOULDBLOCK { return false }
    throw TreesError.system("cannot lock", path, errno: err)
}
