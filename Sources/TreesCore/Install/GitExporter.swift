#if canImport(Glibc)
import Glibc
#endif

/// Exports a git repository at a ref as a tar file in the staging container,
/// so that it then goes through the same strict extraction as any archive.
///
/// Nothing from the repository or its configuration may run code: a local
/// repository's `.git/config` can name smudge/clean/process filters (applied
/// by `git archive` through `.gitattributes`), an fsmonitor, hooks or helpers,
/// and filter names cannot be enumerated to switch them off one by one. So
/// git never works *in* the source: the source is cloned bare into staging
/// (clone reads refs and objects only; upload-pack ignores the dangerous keys
/// of a repository's config), and `git archive` runs in that clone, whose
/// configuration is the one clone wrote, with no filter driver defined — a
/// `filter=` attribute then changes nothing. System and global configuration
/// and attributes are not read either (`GIT_CONFIG_NOSYSTEM`,
/// `GIT_CONFIG_GLOBAL=/dev/null`, `GIT_ATTR_NOSYSTEM`), hooks point at
/// `/dev/null`, and only plain transports are allowed (`GIT_ALLOW_PROTOCOL`:
/// no `ext::` or `fd::`, which run commands).
struct GitExporter {
    let source: String
    let ref: String
    /// Absolute path of this install's staging container (ours alone).
    let scratch: String

    static let environment = [
        "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/true", "SSH_ASKPASS": "/bin/true", "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_COUNT": "0",
        "GIT_ATTR_NOSYSTEM": "1", "GIT_NO_REPLACE_OBJECTS": "1",
        "GIT_ALLOW_PROTOCOL": "file:git:http:https:ssh",
    ]
    static let options = ["-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false",
                          "-c", "core.attributesFile=/dev/null", "-c", "protocol.ext.allow=never"]

    func export() throws -> String {
        let output = scratch + "/export.tar"
        let errors = scratch + "/git.err"
        let gitDir = scratch + "/repo.git"
        let clone = try spawnAndWait(["git"] + Self.options + ["clone", "--quiet", "--bare", "--", source, gitDir],
                                     environment: Self.environment, stdout: .file("/dev/null"), stderr: .file(errors))
        if clone != .exited(0) {
            try refuseIfFull(errors)
            throw TreesError(.notFound, "cannot clone \(quoted(source)): \(quoted(readSmallFile(errors)))",
                             hint: "Check that the path is a git repository, or the URL and that this host can reach it.")
        }
        // Written through our stdout redirection, so a partial output stays
        // (and shows a full disk) when git fails.
        let status = try spawnAndWait(["git", "--git-dir=" + gitDir] + Self.options + ["archive", "--format=tar", ref + "^{tree}"],
                                      environment: Self.environment, stdout: .file(output), stderr: .file(errors))
        if status != .exited(0) {
            try refuseIfFull(errors)
            throw TreesError(.notFound, "cannot export \(quoted(ref)) from \(quoted(source)): \(quoted(readSmallFile(errors)))",
                             hint: "Check that the ref exists in the repository.")
        }
        return output
    }

    /// git reports a full disk as a failure like any other (and `git archive`
    /// sometimes with no message at all), which would read as "no such
    /// repository or ref" (66). A full filesystem under staging is temporary (75).
    private func refuseIfFull(_ errors: String) throws {
        let text = readSmallFile(errors)
        var fs = statvfs()
        let full = statvfs(scratch, &fs) == 0 && (fs.f_bavail == 0 || fs.f_favail == 0)
        if full || text.contains("No space left on device") || text.contains("Disk quota exceeded") {
            throw TreesError(.temporary, "no space left for git under \(scratch)", errno: .noSpace,
                             hint: "Free space on the filesystem holding the root and try again; nothing was changed.")
        }
    }
}

/// The first few KiB of a file, trimmed, for quoting a helper's stderr.
func readSmallFile(_ path: String) -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    let n = read(fd, &buffer, buffer.count)
    guard n > 0 else { return "" }
    return String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters()
}

extension String {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
