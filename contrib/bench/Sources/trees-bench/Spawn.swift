#if canImport(Glibc)
import Glibc
#endif

/// What one finished run of a command cost, from `wait4(2)`'s rusage.
struct Sample {
    var wall: Double        // seconds
    var cpu: Double         // user + system seconds of the process and its waited-for children
    var peakRSS: Int        // bytes, the largest single process
    var writtenBytes: Int   // ru_oublock * 512
    var status: Int32
}

func monotonic() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Starts `argv` (no shell unless argv says so) with `environment` added to
/// ours, stdin from /dev/null, stdout to `stdoutFD` (default /dev/null),
/// and returns its pid.
/// `reportFD` becomes the child's fd 3 (floor/launch.c's report).
func spawn(_ argv: [String], environment: [String: String] = [:], stdoutFD: Int32? = nil, reportFD: Int32? = nil) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    if let stdoutFD {
        posix_spawn_file_actions_adddup2(&actions, stdoutFD, 1)
    } else {
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    }
    if let reportFD { posix_spawn_file_actions_adddup2(&actions, reportFD, 3) }
    var env: [String] = []
    var index = 0
    while let entry = environ[index] {
        let s = String(cString: entry)
        let key = String(s.prefix(while: { $0 != "=" }))
        if environment[key] == nil { env.append(s) }
        index += 1
    }
    for (k, v) in environment { env.append("\(k)=\(v)") }
    let cArgs = argv.map { strdup($0) } + [nil]
    let cEnv = env.map { strdup($0) } + [nil]
    defer { cArgs.forEach { free($0) }; cEnv.forEach { free($0) } }
    var pid: pid_t = 0
    let rc = posix_spawnp(&pid, argv[0], &actions, nil, cArgs, cEnv)
    if rc != 0 { throw BenchError("cannot start \(argv[0]): \(String(cString: strerror(rc)))") }
    return pid
}

/// Waits for `pid` and returns its status and rusage.
func reap(_ pid: pid_t) -> (Int32, rusage) {
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
    let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return (code, usage)
}

/// floor/launch.c, compiled at start (nil without a C compiler): every
/// measured command is started through it, so its peak RSS is its own and
/// not trees-bench's (see launch.c). Set once, before any thread starts.
nonisolated(unsafe) var launcher: String?

/// Runs `argv` to the end and measures it, through `launcher` when there is one.
func measure(_ argv: [String], environment: [String: String] = [:], stdoutFD: Int32? = nil) throws -> Sample {
    if let launcher { return try measureLaunched(launcher, argv, environment: environment, stdoutFD: stdoutFD) }
    let start = monotonic()
    let pid = try spawn(argv, environment: environment, stdoutFD: stdoutFD)
    let (status, usage) = reap(pid)
    let wall = monotonic() - start
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return Sample(wall: wall, cpu: seconds(usage.ru_utime) + seconds(usage.ru_stime),
                  peakRSS: Int(usage.ru_maxrss) * 1024, writtenBytes: Int(usage.ru_oublock) * 512, status: status)
}

private func measureLaunched(_ launcher: String, _ argv: [String], environment: [String: String], stdoutFD: Int32?) throws -> Sample {
    var fds: [Int32] = [0, 0]
    guard makePipe(&fds) else { throw BenchError("pipe: \(String(cString: strerror(errno)))") }
    // A write end that is fd 3 already would be dup2'd onto itself and stay close-on-exec.
    let writeEnd = fds[1] == 3 ? fcntl(3, F_DUPFD_CLOEXEC, 4) : fds[1]
    defer { close(fds[0]); close(fds[1]); if writeEnd != fds[1] { close(writeEnd) } }
    let pid = try spawn([launcher] + argv, environment: environment, stdoutFD: stdoutFD, reportFD: writeEnd)
    let (status, _) = reap(pid)
    var buffer = [UInt8](repeating: 0, count: 256)
    let n = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
    let fields = String(decoding: buffer[0..<max(0, n)], as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
    guard status == 0, fields.count == 6, let wall = Double(fields[0]), let user = Double(fields[1]), let system = Double(fields[2]),
          let rss = Int(fields[3]), let blocks = Int(fields[4]), let code = Int32(fields[5]) else {
        throw BenchError("launch \(argv.joined(separator: " ")) failed (\(status))")
    }
    return Sample(wall: wall, cpu: user + system, peakRSS: rss * 1024, writtenBytes: blocks * 512, status: code)
}

/// Runs `argv` and returns its standard output; throws unless it exits 0.
@discardableResult
func run(_ argv: [String], environment: [String: String] = [:], allowFailure: Bool = false) throws -> String {
    var fds: [Int32] = [0, 0]
    guard makePipe(&fds) else { throw BenchError("pipe: \(String(cString: strerror(errno)))") }
    let pid: pid_t
    do { pid = try spawn(argv, environment: environment, stdoutFD: fds[1]) } catch {
        close(fds[0]); close(fds[1]); throw error
    }
    close(fds[1])
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        out.append(contentsOf: buffer[0..<n])
    }
    close(fds[0])
    let (status, _) = reap(pid)
    if status != 0 && !allowFailure {
        throw BenchError("\(argv.prefix(4).joined(separator: " ")) … exited \(status)")
    }
    return String(decoding: out, as: UTF8.self)
}

/// `sh -c SCRIPT`: for peers that are pipelines (`cp -a X Y && sync`).
func shell(_ script: String) -> [String] { ["/bin/sh", "-c", script] }

/// Whether `name` is an executable on PATH.
func onPath(_ name: String) -> Bool {
    if name.hasPrefix("/") { return access(name, X_OK) == 0 }
    guard let path = getenv("PATH") else { return false }
    return String(cString: path).split(separator: ":").contains { access("\($0)/\(name)", X_OK) == 0 }
}

/// Quotes a path for `sh -c`.
func q(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

extension String {
    func replacingOccurrences(of a: String, with b: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let r = rest.range(of: a) {
            out += rest[..<r.lowerBound] + b
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}

extension Substring {
    func range(of needle: String) -> Range<Substring.Index>? {
        guard !needle.isEmpty else { return nil }
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(needle) { return i..<index(i, offsetBy: needle.count) }
            i = index(after: i)
        }
        return nil
    }
}

/// pipe(2) with both ends close-on-exec (Glibc's Swift module lacks pipe2).
func makePipe(_ fds: inout [Int32]) -> Bool {
    guard pipe(&fds) == 0 else { return false }
    _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
    _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
    return true
}

extension String {
    func range(of needle: String) -> Range<String.Index>? { self[...].range(of: needle) }
}
