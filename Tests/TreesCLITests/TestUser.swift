import Foundation
import Testing

/// Whether tests may make users and switch to them (root, with useradd and setpriv).
let canMakeUsers: Bool = getuid() == 0
    && FileManager.default.isExecutableFile(atPath: "/usr/sbin/useradd")
    && FileManager.default.isExecutableFile(atPath: "/usr/sbin/groupadd")
    && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")

/// `treesBinary` copied, once per test process, where any user can run it: a
/// clone in a directory only its owner can enter (root's home is 0700 on
/// Debian) leaves `.build/debug/trees` out of reach of the users that tests
/// switch to. What the binary loads from its own directory ($ORIGIN, from
/// `ldd`) is copied beside it; the toolchain's shared runtime is world-readable
/// where it is. The copy's directory is removed when the process exits.
let treesBinaryForAnyUser: String = {
    let source = URL(fileURLWithPath: treesBinary)
    let origin = source.deletingLastPathComponent().path + "/"
    guard let made = mkdtemp(strdup(NSTemporaryDirectory() + "/trees-any-user.XXXXXX")) else {
        fatalError("mkdtemp: \(String(cString: strerror(errno)))")
    }
    let dir = String(cString: made)
    free(made)
    chmod(dir, 0o755)
    reachableCopyDirectory = dir
    atexit { if let dir = reachableCopyDirectory { try? FileManager.default.removeItem(atPath: dir) } }
    let ldd = (try? run("/usr/bin/ldd", [treesBinary]).stdout) ?? ""
    let beside = ldd.split(separator: "\n").compactMap { line -> String? in
        guard let arrow = line.range(of: "=> ") else { return nil }
        let path = line[arrow.upperBound...].split(separator: " ").first.map(String.init) ?? ""
        return path.hasPrefix(origin) ? path : nil
    }
    for file in [treesBinary] + beside {
        let target = dir + "/" + URL(fileURLWithPath: file).lastPathComponent
        do {
            try FileManager.default.copyItem(atPath: file, toPath: target)
        } catch {
            fatalError("copying \(file) to \(dir): \(error)")
        }
        chmod(target, 0o755)
    }
    return dir + "/trees"
}()

nonisolated(unsafe) private var reachableCopyDirectory: String?

/// A group made for one test, removed (after its members) when the test ends.
final class TestGroup {
    let name: String
    let gid: Int

    init() throws {
        name = "trg" + String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let r = try run("/usr/sbin/groupadd", [name])
        guard r.status == 0 else { throw TestUserError("groupadd \(name): \(r.stderr)") }
        let g = getgrnam(name)
        guard let g else { throw TestUserError("no group \(name) after groupadd") }
        gid = Int(g.pointee.gr_gid)
    }

    deinit { _ = try? run("/usr/sbin/groupdel", [name]) }
}

/// A user made with useradd for one test (no home, no login shell), in
/// `group` if given, removed when the test ends. Its processes are the
/// test's own, ended by their pids through `Background`.
final class TestUser {
    let name: String
    let uid: Int
    let gid: Int

    init(in group: TestGroup? = nil) throws {
        name = "tru" + String(UInt32.random(in: 0...UInt32.max), radix: 36)
        var args = ["-M", "-N", "-s", "/usr/sbin/nologin"]
        if let group { args += ["-G", group.name] }
        let r = try TreesCLITests.run("/usr/sbin/useradd", args + [name])
        guard r.status == 0 else { throw TestUserError("useradd \(name): \(r.stderr)") }
        guard let pw = getpwnam(name) else { throw TestUserError("no user \(name) after useradd") }
        uid = Int(pw.pointee.pw_uid)
        gid = Int(pw.pointee.pw_gid)
    }

    deinit {
        // What this user still runs (a sleep that outlived its flock -o
        // parent) was started by this test alone: end it by pid, then remove
        // the user.
        for _ in 0..<3 {
            let left = pids()
            if left.isEmpty { break }
            left.forEach { kill($0, SIGKILL) }
            usleep(100_000)
        }
        _ = try? TreesCLITests.run("/usr/sbin/userdel", [name])
    }

    /// The pids of processes running as this user (its real uid, from /proc/PID/status).
    func pids() -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") }) else { return false }
            return line.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().first == Substring(String(uid))
        }
    }

    /// The command line that runs `program arguments` as this user, with its
    /// groups and the ambient `capabilities` given (`sys_ptrace`, as
    /// systemd's `AmbientCapabilities=CAP_SYS_PTRACE` grants it).
    func command(_ program: String, _ arguments: [String], capabilities: [String] = []) -> [String] {
        var options = ["--reuid=\(uid)", "--regid=\(gid)", "--init-groups", "--reset-env"]
        if !capabilities.isEmpty {
            let set = capabilities.map { "+" + $0 }.joined(separator: ",")
            options += ["--inh-caps=" + set, "--ambient-caps=" + set]
        }
        return options + [program] + arguments
    }

    /// Runs a program as this user to completion.
    func run(_ program: String, _ arguments: [String], environment: [String: String] = [:],
             capabilities: [String] = []) throws -> RunResult {
        try TreesCLITests.run("/usr/bin/setpriv", command(program, arguments, capabilities: capabilities), environment: environment)
    }

    /// Runs `trees` as this user against a scratch root.
    func trees(_ s: Scratch, _ arguments: [String], environment: [String: String] = [:],
               capabilities: [String] = []) throws -> RunResult {
        let path = arguments.first == "lease" ? 2 : 1
        let args = Array(arguments.prefix(path)) + ["--root", s.root] + arguments.dropFirst(path)
        // --reset-env drops the caller's environment; pass what the test asks for through env(1).
        var env = hostEnvironment
        for (k, v) in environment { env[k] = v }
        return try run("/usr/bin/env", env.map { "\($0.key)=\($0.value)" } + [treesBinaryForAnyUser] + args, capabilities: capabilities)
    }

    /// Starts a program as this user in the background.
    func background(_ program: String, _ arguments: [String]) throws -> Background {
        try Background("/usr/bin/setpriv", command(program, arguments))
    }
}

struct TestUserError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Whether someone holds a `flock` on `path` (tried exclusive, without waiting).
func isLocked(_ path: String) throws -> Bool {
    try run("/usr/bin/flock", ["-n", "-x", path, "/bin/true"]).status != 0
}

let hasSQLite3 = FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3")

/// Runs sqlite3 on a scratch root's database (the way an operator, or anyone
/// with write access to it, could change a record behind trees' back).
@discardableResult
func sqlite(_ s: Scratch, _ sql: String, as user: TestUser? = nil) throws -> RunResult {
    let db = s.root + "/.trees/state.db"
    if let user { return try user.run("/usr/bin/sqlite3", [db, sql]) }
    return try run("/usr/bin/sqlite3", [db, sql])
}
