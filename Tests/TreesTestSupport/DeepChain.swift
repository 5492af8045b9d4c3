#if canImport(Glibc)
import Glibc
#endif

/// Makes `depth` nested directories `d` under `path` (fd-relative, iterative,
/// so the test itself neither recurses nor hits PATH_MAX). Shared by the core
/// and command-line tests.
public func makeDeepChain(_ path: String, depth: Int, leaf: String? = nil) {
    var fd = open(path, O_RDONLY | O_DIRECTORY)
    precondition(fd >= 0)
    for _ in 0..<depth {
        mkdirat(fd, "d", 0o755)
        let next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
        precondition(next >= 0, "cannot build the deep chain: \(errno)")
        close(fd)
        fd = next
    }
    if let leaf { close(openat(fd, leaf, O_WRONLY | O_CREAT, 0o644)) }
    close(fd)
}
