#if canImport(Glibc)
import Glibc
#endif

/// Where a spawned program's standard output or error goes.
public enum SpawnOutput: Sendable {
    /// Ours, shared.
    case inherit
    /// A file, created or truncated, mode 0600.
    case file(String)
    /// Our standard error (a check's output kept off a `--json` stdout).
    case standardError
}

/// How a spawned program ended.
public enum SpawnEnd: Sendable, Equatable {
    /// Its exit status, or 128+signal.
    case exited(Int32)
    /// Still running at the deadline: its process group was sent TERM, then
    /// KILL after a grace.
    case timedOut
}

/// Runs a program to completion with `posix_spawnp`, stdin from /dev/null.
/// A small helper instead of swift-subprocess: trees needs one blocking call
/// (git for install, a release check for activate), and this keeps the async
/// runtime and Foundation out of the binary.
/// - Parameters:
///   - deadline: seconds to wait; the program runs in a process group of its
///     own so that, when it is late, everything it started is ended with it.
public func spawnAndWait(_ arguments: [String], environment extra: [String: String] = [:],
                         stdout: SpawnOutput = .inherit, stderr: SpawnOutput = .inherit,
                         deadline: Double? = nil, grace: Double = 5) throws -> SpawnEnd {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    for (fd, output) in [(Int32(1), stdout), (2, stderr)] {
        switch output {
        case .inherit: break
        case .file(let path): posix_spawn_file_actions_addopen(&actions, fd, path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        case .standardError: posix_spawn_file_actions_adddup2(&actions, 2, fd)
        }
    }
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    if deadline != nil {
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
    }

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
    let rc = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
    if rc != 0 {
        if rc == ENOENT {
            throw TreesError(.failure, "\(arguments[0]) is not installed", errno: Errno(rc),
                             hint: "Install \(arguments[0]) (e.g. apt-get install \(arguments[0])) to use this source.")
        }
        throw TreesError(.failure, "cannot run \(arguments[0])", errno: Errno(rc))
    }
    guard let deadline else { return .exited(try waitFor(pid, arguments[0], options: 0)!) }
    let end = monotonicNow() + deadline
    while monotonicNow() < end {
        if let status = try waitFor(pid, arguments[0], options: WNOHANG) { return .exited(status) }
        usleep(20_000)
    }
    // Late: the whole group is told to stop, then made to.
    kill(-pid, SIGTERM)
    let killAt = monotonicNow() + grace
    while monotonicNow() < killAt {
        if try waitFor(pid, arguments[0], options: WNOHANG) != nil { kill(-pid, SIGKILL); return .timedOut }
        usleep(20_000)
    }
    kill(-pid, SIGKILL)
    _ = try waitFor(pid, arguments[0], options: 0)
    return .timedOut
}

/// `waitpid`: the exit status (or 128+signal), nil while it runs (WNOHANG).
private func waitFor(_ pid: pid_t, _ program: String, options: Int32) throws -> Int32? {
    var status: Int32 = 0
    let waited = try syscall("cannot wait for", program) { waitpid(pid, &status, options) }
    guard waited == pid else { return nil }
    let signal = status & 0x7f
    return signal == 0 ? (status >> 8) & 0xff : 128 + signal
}

/// The path of the running binary (`/proc/self/exe`), to run trees again
/// as a child (`activate --check` runs its check by `trees exec`).
public func selfExecutable() throws -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let n = try syscall("cannot read", "/proc/self/exe") { readlink("/proc/self/exe", &buffer, buffer.count - 1) }
    return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
