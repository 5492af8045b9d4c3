#if canImport(Glibc)
import Glibc
#endif

/// What a file *is*, however it was reached: `(st_dev, st_ino)`. Bind
/// mounts, symlinked roots and other mount namespaces all show the same pair.
struct FileIdentity: Hashable, Sendable {
    var device: UInt64
    var inode: UInt64

    init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    init(_ st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
    }

    /// `fstat(2)` of an open descriptor (an `O_PATH` one will do).
    init?(fd: Int32) {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        self.init(st)
    }

    /// `fstatat(2)` of `name` in `dirfd`, without following a final symlink.
    init?(at dirfd: Int32, _ name: String) {
        var st = stat()
        guard fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0, st.st_mode & S_IFMT == S_IFDIR else { return nil }
        self.init(st)
    }
}

/// `O_PATH` (not exported by Swift's Glibc module without `_GNU_SOURCE`):
/// `010000000` on x86_64 and arm64. Opens a file to `fstat` or walk from
/// without read permission on it.
let openPathFlag: Int32 = 0o10_000_000
