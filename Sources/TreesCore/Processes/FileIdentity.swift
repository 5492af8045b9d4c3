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

/// An `O_PATH` descriptor for an absolute path in the scanner's own view
/// (the caller closes it), or nil when the open fails.
func openPathOnly(_ path: ArraySlice<UInt8>, directory: Bool) -> Int32? {
    let flags = openPathFlag | O_CLOEXEC | (directory ? O_DIRECTORY : 0)
    let fd = retryingEINTR { (Array(path) + [0]).withUnsafeBufferPointer { p in
        p.withMemoryRebound(to: CChar.self) { c in c.baseAddress.map { Glibc.open($0, flags) } ?? -1 } } }
    return fd >= 0 ? fd : nil
}

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

extension FileIdentity {
    /// The `st_dev` glibc composes from a device's major and minor numbers
    /// (`makedev(3)`), as maps(5) and mountinfo spell them.
    static func deviceNumber(major: UInt64, minor: UInt64) -> UInt64 {
        ((major & 0xffff_f000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffff_ff00) << 12) | (minor & 0xff)
    }
}

/// What a /proc link (`fd/N`, `exe`, `cwd`, `root`, `map_files/A-B`)
/// refers to, read by `statx(2)` through the link itself: the kernel's own
/// reference, whatever path it spells. `AT_STATX_DONT_SYNC` keeps a FUSE
/// daemon or NFS server out of it, so a stalled one cannot block the scan.
struct Reference: Equatable {
    var identity: FileIdentity
    /// Nil where the kernel does not report mount ids (before 5.8).
    var mountID: UInt64?
    /// The link count: 0 for a file unlinked everywhere, which no tree
    /// holds. Nil when not known (a maps line).
    var links: UInt32?
    var isDirectory: Bool

    init(identity: FileIdentity, mountID: UInt64?, links: UInt32?, isDirectory: Bool) {
        self.identity = identity
        self.mountID = mountID
        self.links = links
        self.isDirectory = isDirectory
    }

    /// `statx(dirfd, link)`, following the (magic) link; nil when it fails.
    init?(at dirfd: Int32, _ link: String) {
        var dev: UInt64 = 0, ino: UInt64 = 0, mnt: UInt64 = 0
        var nlink: UInt32 = 0, mode: UInt32 = 0
        guard link.withCString({ CT_statx_reference(dirfd, $0, &dev, &ino, &mnt, &nlink, &mode) }) == 0 else { return nil }
        self.init(identity: FileIdentity(device: dev, inode: ino), mountID: mnt == 0 ? nil : mnt, links: nlink,
                  isDirectory: mode & UInt32(S_IFMT) == UInt32(S_IFDIR))
    }
}

/// Where a reference lies: in a tree or none, or still to be found by a
/// search of the trees for its inode (its spelling could not be trusted).
enum Placement: Equatable {
    case tree(TreeRef?)
    case search(FileIdentity)
}
