#if canImport(Glibc)
import Glibc
#endif
import CTreesShim

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

/// A file's identity and the mount it was reached through, from one
/// `statx(2)` of an open descriptor.
struct MountedFile {
    var identity: FileIdentity
    /// Nil where the kernel does not report mount ids (before 5.8).
    var mountID: UInt64?

    init?(fd: Int32) {
        var dev: UInt64 = 0, ino: UInt64 = 0, mnt: UInt64 = 0
        var mountRoot: Int32 = 0
        if CT_statx_identity(fd, &dev, &ino, &mnt, &mountRoot) == 0 {
            identity = FileIdentity(device: dev, inode: ino)
            mountID = mnt == 0 ? nil : mnt
        } else {
            guard let plain = FileIdentity(fd: fd) else { return nil }
            identity = plain
            mountID = nil
        }
    }
}
