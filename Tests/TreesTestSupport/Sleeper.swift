#if canImport(Glibc)
import Glibc
#endif

/// `/bin/sleep SECONDS` started with `posix_spawn` in `directory` (when
/// given) and with exactly `environment` (when given; else this process's),
/// for tests that need a real process to scan or lease. Foundation's
/// `Process` is not used: its children did not reliably outlive a sibling's
/// `terminate()`. End it with `reap(_:)`, by its pid.
public func spawnSleeper(seconds: Int = 30, in directory: String? = nil, environment: [String]? = nil) -> pid_t? {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    if let directory {
        // glibc-only and not exported to Swift without _GNU_SOURCE: looked up at run time.
        typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addchdir_np"),
              unsafeBitCast(symbol, to: AddChdir.self)(&actions, directory) == 0 else { return nil }
    }
    let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup(String(seconds)), nil]
    let envp: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.map { strdup($0) } + [nil] }
    defer { (argv + (envp ?? [])).forEach { free($0) } }
    var pid: pid_t = 0
    let rc = envp.map { posix_spawn(&pid, "/bin/sleep", &actions, nil, argv, $0) }
        ?? posix_spawn(&pid, "/bin/sleep", &actions, nil, argv, environ)
    return rc == 0 ? pid : nil
}

/// Kills `pid` and waits for it.
public func reap(_ pid: pid_t) {
    kill(pid, SIGKILL)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
}
