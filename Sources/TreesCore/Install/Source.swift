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
                throw TreesError(.notFound, "no such git repository \(quoted(source))", errno: errno)
            }
            return .git(canonical, ref: gitRef)
        }
        var st = stat()
        if stat(source, &st) != 0 {
            let err = errno
            if err == ENOENT || err == ENOTDIR {
                throw TreesError(.notFound, "no such source \(quoted(source))", errno: err)
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
