import Foundation
import Testing

/// The `trees` binary built beside this test bundle.
let treesBinary: String = {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
    // The bundle may be a directory (…/treesPackageTests.xctest/…) on some layouts.
    while !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("trees").path), dir.path != "/" {
        dir = dir.deletingLastPathComponent()
    }
    return dir.appendingPathComponent("trees").path
}()

/// The repository's fixtures directory.
let fixtures: URL = {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures")
}()

/// Where this host's init cannot be inspected even by root (a VM or container
/// whose pid 1 is not dumpable), tests vouch for it as an operator would, or
/// every gc and wait would rightly fail closed on it.
let hostEnvironment: [String: String] = {
    var buffer = [CChar](repeating: 0, count: 256)
    if readlink("/proc/1/exe", &buffer, 255) < 0 && errno == EACCES {
        return ["TREES_IGNORE_UNKNOWN_PIDS": "1"]
    }
    return [:]
}()

struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// A temporary directory removed (after restoring write bits) when the test ends.
final class Scratch {
    let url: URL
    var path: String { url.path }
    var root: String { url.appendingPathComponent("root").path }
    /// Whether this scratch holds `UninspectableGate` shared (every test but a `.uninspectableProcesses` one).
    private let gated: Bool

    init() throws {
        gated = !UninspectableGate.holdsExclusive
        if gated { UninspectableGate.shared.enterShared() }
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("trees-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        url = URL(fileURLWithPath: base.resolvingSymlinksInPath().path)
    }

    deinit {
        _ = try? Process.run(URL(fileURLWithPath: "/bin/chmod"), arguments: ["-R", "u+w", url.path]).waitUntilExit()
        try? FileManager.default.removeItem(at: url)
        if gated { UninspectableGate.shared.leaveShared() }
    }

    /// Writes a file (creating parent directories).
    @discardableResult
    func write(_ relative: String, _ content: String, executable: Bool = false) throws -> String {
        let file = url.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try content.write(to: file, atomically: false, encoding: .utf8)
        if executable {
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file.path)
        }
        return file.path
    }

    func exists(_ relative: String) -> Bool {
        var st = stat()
        return lstat(url.appendingPathComponent(relative).path, &st) == 0
    }

    /// Runs `trees` with `--root` set to this scratch root.
    @discardableResult
    func trees(_ arguments: [String], environment: [String: String] = [:]) throws -> RunResult {
        // --root goes after the (sub)command path: `lease acquire --root R …`.
        let path = arguments.first == "lease" ? 2 : 1
        return try run(treesBinary, Array(arguments.prefix(path)) + ["--root", root] + arguments.dropFirst(path),
                       environment: environment)
    }
}

/// Runs a program to completion, capturing its output.
func run(_ program: String, _ arguments: [String], environment: [String: String] = [:], cwd: String? = nil) throws -> RunResult {
    let r = try runCapturingBytes(program, arguments, environment: environment, cwd: cwd)
    return RunResult(status: r.status, stdout: String(decoding: r.stdout, as: UTF8.self),
                     stderr: String(decoding: r.stderr, as: UTF8.self))
}

/// Runs a program to completion, capturing its output byte for byte (a
/// decoded `String` would hide invalid UTF-8 behind U+FFFD).
func runCapturingBytes(_ program: String, _ arguments: [String], environment: [String: String] = [:],
                       cwd: String? = nil) throws -> (status: Int32, stdout: [UInt8], stderr: [UInt8]) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env.removeValue(forKey: "TREES_ROOT")
    env.merge(hostEnvironment) { a, _ in a }
    for (k, v) in environment { env[k] = v }
    process.environment = env
    if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Read both pipes concurrently so a chatty child cannot block on a full pipe.
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return (process.terminationStatus, [UInt8](outData), [UInt8](errData))
}

/// Parses the JSON output of a `--json` command.
func json(_ text: String) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(text.utf8))
}

/// Lists every path below `dir` (relative), for "nothing else changed" checks.
func listing(_ dir: String) -> [String] {
    guard let e = FileManager.default.enumerator(atPath: dir) else { return [] }
    return (e.allObjects as? [String] ?? []).sorted()
}

/// A process started in the background, killed by its own pid when the test ends.
final class Background {
    let process: Process
    var pid: Int32 { process.processIdentifier }
    /// Further pids the test learned of (grandchildren), killed too.
    var extraPIDs: [Int32] = []

    init(_ program: String, _ arguments: [String], environment: [String: String] = [:], removing: [String] = [], cwd: String? = nil) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for key in removing + ["TREES_ROOT", "TREES_TREE", "TREES_TREE_PATH", "TREES_LEASE"] { env.removeValue(forKey: key) }
        env.merge(hostEnvironment) { a, _ in a }
        for (k, v) in environment { env[k] = v }
        process.environment = env
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// Ends the process and what it started and still parents (a `flock`
    /// or shell's command): Foundation's `waitUntilExit` otherwise waits for
    /// such a child too, which kept tests waiting out a `sleep 30` each.
    func stop() {
        for pid in extraPIDs { kill(pid, SIGKILL) }
        if process.isRunning {
            for child in descendants(of: pid) { kill(child, SIGKILL) }
            kill(pid, SIGKILL)
        }
        process.waitUntilExit()
    }

    deinit { stop() }
}

/// The processes below `pid` (children, theirs, …), from each `/proc/PID/stat`'s parent pid.
func descendants(of pid: Int32) -> [Int32] {
    var children: [Int32: [Int32]] = [:]
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let child = Int32(entry),
              let text = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
              let paren = text.lastIndex(of: ")") else { continue }
        let fields = text[text.index(after: paren)...].split(separator: " ")
        if fields.count > 1, let parent = Int32(fields[1]) { children[parent, default: []].append(child) }
    }
    var found: [Int32] = []
    var queue = [pid]
    while let next = queue.popLast() {
        for child in children[next] ?? [] where !found.contains(child) {
            found.append(child)
            queue.append(child)
        }
    }
    return found
}

/// Polls `condition` every 50 ms until it holds or `seconds` pass.
func eventually(_ seconds: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
        if try condition() { return true }
        usleep(50_000)
    }
    return try condition()
}

/// `trees ps --json` parsed: (pid, "name@rev") → evidence kinds.
func psEvidence(_ s: Scratch) throws -> [String: Set<String>] {
    let r = try s.trees(["ps", "--json"])
    // A failing ps must fail the test: an empty answer would make every
    // "not listed" check pass.
    guard r.status == 0, let out = try json(r.stdout) as? [String: Any],
          let processes = out["processes"] as? [[String: Any]] else {
        throw TestFailure("trees ps --json failed (status \(r.status)): \(r.stderr)")
    }
    var result: [String: Set<String>] = [:]
    for p in processes {
        let tree = p["tree"] as? [String: String] ?? [:]
        let key = "\(p["pid"] as? Int ?? 0) \(tree["name"] ?? "")@\(tree["rev"] ?? "")"
        result[key] = Set(p["evidence"] as? [String] ?? [])
    }
    return result
}

/// Installs `app@REV` for each rev from a small generated source.
func installRevs(_ s: Scratch, _ revs: [String], files: Int = 3, activateLast: Bool = true) throws {
    for (i, rev) in revs.enumerated() {
        for f in 0..<files { try s.write("src-\(rev)/lib/f\(f).txt", "\(rev) \(f)\n") }
        try s.write("src-\(rev)/job.py", "import time\ntime.sleep(30)\n")
        var args = ["install", "app@\(rev)", s.path + "/src-\(rev)"]
        if activateLast && i == revs.count - 1 { args.append("--activate") }
        let r = try s.trees(args)
        #expect(r.status == 0, "\(r.stderr)")
    }
}

/// What some tests need from the host. A test without it is marked skipped
/// with the reason (`.enabled(if:)`), never passed by returning early.
enum Facility {
    static let isRoot = getuid() == 0
    static func has(_ program: String) -> Bool { FileManager.default.isExecutableFile(atPath: program) }
    static let hasPython3 = has("/usr/bin/python3")
    static let canDropPrivileges = isRoot && has("/usr/bin/setpriv")
    /// Root, and a tmpfs mounts and unmounts here (not in every container).
    static let canMountTmpfs: Bool = {
        guard isRoot, let dir = try? Scratch() else { return false }
        guard (try? run("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "trees-probe", dir.path]))?.status == 0 else { return false }
        return (try? run("/bin/umount", [dir.path]))?.status == 0
    }()
    /// A cgroup v2 hierarchy in which this process may make and enter a child.
    static let hasWritableCgroup: Bool = { TestCgroupParent() != nil }()
}

/// A helper's failure, thrown so the test that called it fails with the reason.
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Keeps tests that leave processes trees cannot inspect apart from the rest.
///
/// Here root has no CAP_SYS_PTRACE, so a process of another uid cannot be
/// inspected, and gc, wait and remove rightly fail closed on it: any such
/// process alive during another test would make that test's gc keep trees
/// it expects deleted. The same holds for a process whose files lie deeper
/// than PATH_MAX (the deep-tree tests' own trees processes): its links
/// cannot be read; nor can a process blocked on a stalled FUSE file past
/// the scan's deadline. Tests marked `.uninspectableProcesses` hold this gate alone;
/// every other test holds it shared from its `Scratch` on, so the two kinds
/// never overlap while each kind still runs in parallel with itself.
final class UninspectableGate: @unchecked Sendable {
    static let shared = UninspectableGate()
    /// Set inside a `.uninspectableProcesses` test, whose own `Scratch` must not wait for itself.
    @TaskLocal static var holdsExclusive = false

    private let condition = NSCondition()
    private var readers = 0
    private var writer = false

    func enterShared() {
        condition.lock()
        while writer { condition.wait() }
        readers += 1
        condition.unlock()
    }

    func leaveShared() {
        condition.lock()
        readers -= 1
        condition.broadcast()
        condition.unlock()
    }

    func enterExclusive() {
        condition.lock()
        while writer || readers > 0 { condition.wait() }
        writer = true
        condition.unlock()
    }

    func leaveExclusive() {
        condition.lock()
        writer = false
        condition.broadcast()
        condition.unlock()
    }
}

/// `.uninspectableProcesses`: the test runs processes trees cannot inspect (see `UninspectableGate`).
struct UninspectableTrait: TestTrait, SuiteTrait, TestScoping {
    var isRecursive: Bool { true }

    func provideScope(for test: Test, testCase: Test.Case?,
                      performing function: @Sendable () async throws -> Void) async throws {
        guard testCase != nil else { return try await function() }
        UninspectableGate.shared.enterExclusive()
        defer { UninspectableGate.shared.leaveExclusive() }
        try await UninspectableGate.$holdsExclusive.withValue(true) { try await function() }
    }
}

extension Trait where Self == UninspectableTrait {
    static var uninspectableProcesses: Self { Self() }
}

/// A job that holds nothing of `tree` but a mapping of `lib/f1.txt`: it maps
/// the file, closes the descriptor and leaves the directory.
func mappingJob(_ python: String, in tree: String) throws -> Background {
    try Background(python, ["-c", """
        import mmap, os, time
        f = open('lib/f1.txt', 'rb')
        m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
        f.close()
        os.chdir('/')
        time.sleep(30)
        """], cwd: tree)
}

/// Runs `argv` in the background with no signal blocked, as a job started
/// by a shell or systemd runs: the test's threads block most signals, and
/// Foundation's `Process` hands that mask on to its child, where a drain's
/// TERM would wait forever.
func signallableJob(_ argv: [String], cwd: String? = nil) throws -> Background {
    try Background("/usr/bin/python3", ["-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])"] + argv,
                   cwd: cwd)
}

/// Where the one `.deb` of this test run is built (removed when the run ends).
private let packageDirectory = FileManager.default.temporaryDirectory
    .appendingPathComponent("trees-test-deb-\(UUID().uuidString)").path

/// The `.deb` that `contrib/package-deb` builds, built once per test run and
/// shared by the tests that need it (a release build takes a minute or
/// more): the package test checks it, the fleet test installs it.
let builtPackage: Result<String, TestFailure> = {
    atexit { _ = try? FileManager.default.removeItem(atPath: packageDirectory) }
    let repository = fixtures.deletingLastPathComponent().path
    guard let build = try? run("/bin/bash", [repository + "/contrib/package-deb", packageDirectory], cwd: repository) else {
        return .failure(TestFailure("contrib/package-deb could not run"))
    }
    guard build.status == 0 else { return .failure(TestFailure("contrib/package-deb: \(build.stderr.suffix(3000))")) }
    return .success(build.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
}()
