#if canImport(Glibc)
import Glibc
#endif

/// Runs a helper program (only `git`) to completion with `posix_spawnp`,
/// stdin from /dev/null and stdout/stderr into files the caller chose.
/// A small helper instead of swift-subprocess: install needs one blocking
/// call, and this keeps the async runtime and Foundation out of the binary.
/// - Returns: the exit status, or 128+signal.
func runProgram(_ arguments: [String], stdoutPath: String, stderrPath: String, environment extra: [String: String] = [:]) throws -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)

    var env: [String] = []
    var index = 0
    while let entry = environ[index] {
        let text = String(cString: entry)
        let key = text.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
        if extra[key] == nil { env.append(text) }
        index += 1
    }
    for (k, v) in extra { env.append("\(k)=\(v)") }

    let argv = arguments.map { strdup($0) } + [nil]
    let envp = env.map { strdup($0) } + [nil]
    defer {
        argv.forEach { free($0) }
        envp.forEach { free($0) }
    }
    var pid: pid_t = 0
    let rc = posix_spawnp(&pid, arguments[0], &actions, nil, argv, envp)
    if rc != 0 {
        if rc == ENOENT {
            throw TreesError(.failure, "\(arguments[0]) is not installed", errno: Errno(rc),
                             hint: "Install \(arguments[0]) (e.g. apt-get install \(arguments[0])) to use this source.")
        }
        throw TreesError(.failure, "cannot run \(arguments[0])", errno: Errno(rc))
    }
    var status: Int32 = 0
    try syscall("cannot wait for", arguments[0]) { waitpid(pid, &status, 0) }
    let signal = status & 0x7f
    return signal == 0 ? (status >> 8) & 0xff : 128 + signal
}
