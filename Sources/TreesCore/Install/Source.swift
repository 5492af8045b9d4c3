#if canImport(Glibc)
import Glibc
#endif

/// Where an install takes its content from.
public enum Source: Sendable, Equatable {
    /// A directory, copied; symlinks are copied as symlinks, never followed.
    case directory(String)
    /// A tar archive, possibly compressed, extracted with strict member checks.
    case archive(String)
    /// A git repository path or URL, exported at a ref.
    case git(String, ref: String)

    public static let archiveSuffixes = [".tar", ".tar.gz", ".tgz", ".tar.xz", ".tar.zst"]

    /// Decides what `SOURCE` is. Throws `.notFound` (66) when it does not
    /// exist and `.badInput` (65) when it is of no supported kind.
    public static func classify(_ source: String, gitRef: String?) throws -> Source {
        guard !source.isEmpty, !source.utf8.contains(0) else {
            throw TreesError(.badInput, "empty source")
        }
        if let gitRef {
            try validateGitRef(gitRef)
            if isURL(source) { return .git(source, ref: gitRef) }
            guard let canonical = canonicalPath(source) else {
                throw TreesError(.notFound, "no such git repository \(quoted(source))", errno: .current)
            }
            return .git(canonical, ref: gitRef)
        }
        var st = stat()
        if stat(source, &st) != 0 {
            let err = errno
            if err == ENOENT || err == ENOTDIR {
                throw TreesError(.notFound, "no such source \(quoted(source))", errno: Errno(err))
            }
            throw TreesError.system("cannot read source", source, errno: err)
        }
        guard let canonical = canonicalPath(source) else {
            throw TreesError.system("cannot resolve source", source, errno: errno)
        }
        switch st.st_mode & S_IFMT {
        case S_IFDIR:
            return .directory(canonical)
        case S_IFREG:
            let lower = source.lowercased()
            if archiveSuffixes.contains(where: { lower.hasSuffix($0) }) { return .archive(canonical) }
            throw TreesError(.badInput, "unsupported source \(quoted(source))",
                             hint: "A source is a directory, an archive ending in \(archiveSuffixes.joined(separator: ", ")), or a git repository with --git-ref.")
        default:
            throw TreesError(.badInput, "source \(quoted(source)) is neither a directory nor a regular file")
        }
    }

    static func isURL(_ text: String) -> Bool {
        if text.contains("://") { return true }
        // scp-like `user@host:path`, as git accepts it; a local path never has ':' before the first '/'.
        if let colon = text.firstIndex(of: ":"), !text[..<colon].contains("/") { return true }
        return false
    }

    /// A ref reaches git as an argument, so it may not look like an option
    /// and may hold no control characters or spaces.
    static func validateGitRef(_ ref: String) throws {
        let bad = ref.isEmpty || ref.hasPrefix("-") || ref.utf8.count > 256
            || ref.unicodeScalars.contains { $0.value < 0x21 || $0.value == 0x7f }
        if bad {
            throw TreesError(.badInput, "invalid git ref \(quoted(ref))",
                             hint: "Give a branch, tag or commit id, e.g. --git-ref v1.2 or --git-ref 3f2a9c1.")
        }
    }
}

extension Source {
    /// Refuses a directory source that is the root, lies anywhere inside it
    /// (`ROOT/.trees`, staging, a tree) or holds it, judged by device and
    /// inode of the directories themselves and all their parents, so no
    /// spelling (a symlink, a bind mount of the root, `..`) gets around it.
    /// Copying such a source would copy staging into itself, or a tree
    /// into its own next revision while it is being written.
    /// - Throws: `.badInput` (65).
    static func refuseOverlap(source: Directory, root: Directory, shown: String, rootShown: String) throws {
        let sourceUp = try identities(upFrom: source)
        let rootUp = try identities(upFrom: root)
        if let sourceID = sourceUp.first, rootUp.contains(sourceID) {
            throw TreesError(.badInput, "source \(quoted(shown)) is or contains the root \(rootShown)",
                             hint: "Copy from a directory outside the root.")
        }
        if let rootID = rootUp.first, sourceUp.contains(rootID) {
            throw TreesError(.badInput, "source \(quoted(shown)) is inside the root \(rootShown)",
                             hint: "Install from a directory outside the root; to reuse an installed tree, install its source again.")
        }
    }

    struct FileID: Equatable {
        let device: dev_t
        let inode: ino_t
    }

    /// The identities of `dir` and each parent up to `/` (through `..` by
    /// descriptor; iterative, one directory open at a time).
    static func identities(upFrom dir: Directory) throws -> [FileID] {
        var st = try dir.status()
        var out = [FileID(device: st.st_dev, inode: st.st_ino)]
        var fd = try syscall("cannot open", dir.path + "/..") { openat(dir.fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(fd) }
        // PATH_MAX bounds how deep a directory reached by path can be.
        for _ in 0..<Int(PATH_MAX) {
            try syscall("cannot stat a parent of", dir.path) { fstat(fd, &st) }
            let id = FileID(device: st.st_dev, inode: st.st_ino)
            if id == out.last { break }  // `/` is its own parent
            out.append(id)
            let up = try syscall("cannot open a parent of", dir.path) { openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
            close(fd)
            fd = up
        }
        return out
    }
}
