#if canImport(Glibc)
import Glibc
#endif

/// Exports a git repository at a ref as a tar file in the staging container,
/// so that it then goes through the same strict extraction as any archive.
struct GitExporter {
    let source: String
    let ref: String
    /// Absolute path of this install's staging container (ours alone).
    let scratch: String

    func export() throws -> String {
        let output = scratch + "/export.tar"
        let errors = scratch + "/git.err"
        let env = ["GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/true", "LC_ALL": "C"]
        var gitDir = source
        if Source.isURL(source) {
            gitDir = scratch + "/repo.git"
            let status = try runProgram(["git", "clone", "--quiet", "--bare", "--", source, gitDir],
                                        stdoutPath: "/dev/null", stderrPath: errors, environment: env)
            if status != 0 {
                throw TreesError(.notFound, "cannot clone \(quoted(source)): \(readSmallFile(errors))",
                                 hint: "Check the URL and that this host can reach it.")
            }
        }
        let status = try runProgram(["git", "--git-dir=" + gitPath(gitDir), "archive", "--format=tar",
                                     "--output=" + output, ref + "^{tree}"],
                                    stdoutPath: "/dev/null", stderrPath: errors, environment: env)
        if status != 0 {
            throw TreesError(.notFound, "cannot export \(quoted(ref)) from \(quoted(source)): \(readSmallFile(errors))",
                             hint: "Check that the path is a git repository and the ref exists there.")
        }
        return output
    }

    /// A work tree's repository is its `.git`; a bare repository is itself.
    private func gitPath(_ dir: String) -> String {
        var st = stat()
        if stat(dir + "/.git", &st) == 0 { return dir + "/.git" }
        return dir
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
