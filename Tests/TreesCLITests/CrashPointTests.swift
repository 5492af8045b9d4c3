import Foundation
import Testing

let crashPointToolsAvailable = FileManager.default.isExecutableFile(atPath: "/usr/bin/strace")
    && FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3")

/// The crash-point harness (DESIGN.md invariants 1, 2 and 8): every
/// state-changing command is run under `strace -e inject=SYSCALL:signal=SIGKILL:when=k`
/// for every k = 1, 2, … until it completes without being killed, for each
/// syscall class that makes state durable or visible (fsync, fdatasync — which
/// includes every SQLite commit of the WAL — rename*, unlink*). The kill lands
/// on entry to the k-th call, so it also catches the state right after the
/// call before it. After each kill the invariants are checked on the raw
/// state, then the next command runs (the same command again, then a gc that
/// keeps everything) and must finish or undo the half-step, after which the
/// invariants hold strictly and `trees doctor` reports clean.
///
/// WAL page writes (`pwrite64` on state.db-wal) count as SQLite commits.
/// `TREES_SOAK=1` (read by this test only) uses a bigger fixture and adds
/// mkdirat and symlinkat.
@Suite("crash points", .enabled(if: crashPointToolsAvailable, "needs strace and sqlite3"))
struct CrashPointTests {
    static let soak = ProcessInfo.processInfo.environment["TREES_SOAK"] == "1"

    /// One syscall to kill at; `walOnly` restricts it to state.db-wal (`strace -P`).
    struct Point: CustomStringConvertible {
        let syscall: String
        var walOnly = false
        var description: String { walOnly ? "\(syscall)@wal" : syscall }
    }

    static let points: [Point] = {
        // A SQLite commit is an fsync of the WAL, except for a lease, whose
        // commit is not synced at once (it is dead after a machine crash by
        // boot id): its commit point is the write of the WAL page itself.
        var points = ["fsync", "fdatasync", "rename", "renameat", "renameat2", "unlink", "unlinkat"].map { Point(syscall: $0) }
        points.append(Point(syscall: "pwrite64", walOnly: true))
        if soak { points += [Point(syscall: "mkdirat"), Point(syscall: "symlinkat")] }
        return points
    }()

    /// What the test knows while it runs one scenario.
    final class Context {
        let s: Scratch
        var sources: [String: String] = [:]
        var leaseID = ""
        var sleeper: Background?
        /// The operator when it is not root: a user who owns the root.
        let user: TestUser?
        /// Paths a tree holds beside its source's content: trees' links to
        /// shared paths and the directories made for them.
        var sharedLinks: Set<String> = []

        init(_ s: Scratch, user: TestUser? = nil) throws {
            self.s = s
            self.user = user
            if let user {
                chmod(s.path, 0o755)
                #expect(mkdir(s.root, 0o755) == 0 && chown(s.root, uid_t(user.uid), gid_t(user.gid)) == 0)
            }
        }

        /// gc and remove run as a non-root operator with what the packaged
        /// gc unit grants it, so that they can judge other users' processes.
        func capabilities(_ command: [String]) -> [String] {
            user != nil && ["gc", "remove"].contains(command.first) ? DeployUserTests.gcCapabilities : []
        }

        /// Runs trees as the operator.
        func trees(_ command: [String]) throws -> RunResult {
            guard let user else { return try s.trees(command) }
            return try user.trees(s, command, capabilities: capabilities(command))
        }

        /// Runs `strace ARGS trees COMMAND` as the operator.
        func traced(_ straceArgs: [String], _ command: [String]) throws -> RunResult {
            let split = command.first == "lease" ? 2 : 1
            let trees = [user == nil ? treesBinary : treesBinaryForAnyUser] + Array(command.prefix(split)) + ["--root", s.root] + command.dropFirst(split)
            guard let user else { return try run("/usr/bin/strace", straceArgs + trees) }
            // setpriv resets the environment: env(1) passes on what the host needs.
            let env = ["/usr/bin/env"] + hostEnvironment.map { "\($0.key)=\($0.value)" }
            return try user.run("/usr/bin/strace", straceArgs + env + trees, capabilities: capabilities(command))
        }
    }

    struct Scenario: CustomTestStringConvertible, Sendable {
        let name: String
        /// Commands run once to build the root every case starts from.
        let setup: @Sendable (Context) throws -> Void
        let command: @Sendable (Context) -> [String]
        /// Exit statuses the command may end with when not killed, and when run again.
        var rerunStatuses: Set<Int32> = [0]
        /// Checks after recovery, returning violations.
        var after: @Sendable (Context, String?) throws -> [String] = { _, _ in [] }
        var testDescription: String { name }
    }

    static let scenarios: [Scenario] = [
        Scenario(name: "install (directory)", setup: { c in try c.install("r1", activate: true) },
                 command: { c in ["install", "app@r2", c.sources["r2"]!] },
                 after: { c, _ in c.expectTree("r2") }),
        Scenario(name: "install (archive)", setup: { c in try c.install("r1", activate: true); try c.archive("r2") },
                 command: { c in ["install", "app@r2", c.s.path + "/src-r2.tar"] },
                 after: { c, _ in c.expectTree("r2") }),
        Scenario(name: "install (fresh root)", setup: { c in try c.source("r1") },
                 command: { c in ["install", "app@r1", c.sources["r1"]!] },
                 after: { c, _ in c.expectTree("r1") }),
        Scenario(name: "install --activate", setup: { c in try c.install("r1", activate: true) },
                 command: { c in ["install", "app@r2", c.sources["r2"]!, "--activate"] },
                 after: { c, _ in
                     var v = c.expectTree("r2") + c.expectCurrent("r2")
                     v += c.expectStatus(["rollback", "app"], [0]) + c.expectCurrent("r1")
                     return v
                 }),
        Scenario(name: "activate", setup: { c in try c.install("r1", activate: true); try c.install("r2", activate: true) },
                 command: { _ in ["activate", "app@r1"] },
                 after: { c, _ in
                     var v = c.expectCurrent("r1")
                     // The old tree's grace period started: a gc with a long min-age keeps it.
                     v += c.expectStatus(["gc", "--keep", "0", "--min-age", "1h"], [0]) + c.expectTree("r2")
                     v += c.expectStatus(["rollback", "app"], [0]) + c.expectCurrent("r2")
                     return v
                 }),
        Scenario(name: "rollback", setup: { c in try c.install("r1", activate: true); try c.install("r2", activate: true) },
                 // Run again after it finished, rollback finds nothing left
                 // to go to: the one it left is marked bad.
                 command: { _ in ["rollback", "app"] }, rerunStatuses: [0, 66],
                 after: { c, _ in
                     // The mark and the move are one step: a kill anywhere
                     // leaves both or (until the rerun) neither.
                     var v = c.expectCurrent("r1")
                     if c.sql("SELECT verdict FROM trees WHERE rev = 'r2'") != "bad" { v.append("r2 left but not marked bad") }
                     return v
                 }),
        Scenario(name: "mark", setup: { c in try c.install("r1", activate: true); try c.install("r2", activate: false) },
                 command: { _ in ["mark", "app@r2", "bad", "--reason", "crash test"] },
                 after: { c, _ in
                     var v: [String] = []
                     if c.sql("SELECT verdict || ' ' || verdict_reason FROM trees WHERE rev = 'r2'") != "bad crash test" { v.append("r2 not marked bad") }
                     if c.sql("SELECT COUNT(*) FROM history WHERE event = 'marked-bad'") == "0" { v.append("no history entry") }
                     return v
                 }),
        Scenario(name: "activate --check (failing)", setup: { c in
                     try c.install("r1", activate: true); try c.install("r2", activate: false)
                     _ = try c.trees(["mark", "app@r1", "good"])
                 },
                 // Run again, the check fails again, or r2 is refused as bad: 65 either way.
                 command: { _ in ["activate", "app@r2", "--check", "exit 1", "--within", "1m"] }, rerunStatuses: [65],
                 after: { c, _ in
                     // A failed check's return is rolled forward: r2, marked
                     // bad, never stays current.
                     var v = c.expectCurrent("r1")
                     if c.sql("SELECT verdict FROM trees WHERE rev = 'r2'") != "bad" { v.append("r2 not marked bad") }
                     return v
                 }),
        Scenario(name: "pin", setup: { c in try c.install("r1", activate: true); try c.install("r2", activate: true) },
                 command: { _ in ["pin", "app@r1"] },
                 after: { c, _ in c.sql("SELECT pinned FROM trees WHERE rev = 'r1'") == "1" ? [] : ["r1 not pinned after rerun"] }),
        Scenario(name: "unpin", setup: { c in
                     try c.install("r1", activate: true); try c.install("r2", activate: true)
                     _ = try c.trees(["pin", "app@r1"])
                 },
                 command: { _ in ["unpin", "app@r1"] },
                 after: { c, _ in c.sql("SELECT pinned FROM trees WHERE rev = 'r1'") == "0" ? [] : ["r1 still pinned after rerun"] }),
        Scenario(name: "gc", setup: { c in
                     try c.install("r1", activate: true); try c.install("r2", activate: true); try c.install("r3", activate: true)
                 },
                 command: { _ in ["gc", "--keep", "0", "--min-age", "0"] },
                 after: { c, _ in
                     var v = c.expectTree("r3") + c.expectCurrent("r3")
                     for rev in ["r1", "r2"] where c.s.exists("root/app/\(rev)") { v.append("gc left \(rev) after a rerun") }
                     if !listing(c.s.root + "/.trees/trash").isEmpty { v.append("trash not empty") }
                     return v
                 }),
        Scenario(name: "remove", setup: { c in try c.install("r1", activate: true); try c.install("r2", activate: true) },
                 command: { _ in ["remove", "app@r1"] }, rerunStatuses: [0, 66],
                 after: { c, _ in
                     var v = c.expectTree("r2")
                     if c.s.exists("root/app/r1") { v.append("r1 still on disk") }
                     if c.sql("SELECT state FROM trees WHERE rev = 'r1'") != "deleted" { v.append("r1 not recorded deleted") }
                     return v
                 }),
        Scenario(name: "lease acquire", setup: { c in
                     try c.install("r1", activate: true)
                     c.sleeper = try Background("/bin/sleep", ["600"])
                 },
                 command: { c in ["lease", "acquire", "app", "--pid", String(c.sleeper!.pid)] },
                 after: { c, _ in
                     let n = Int(c.sql("SELECT COUNT(*) FROM leases WHERE pid = \(c.sleeper!.pid)")) ?? 0
                     return n >= 1 ? [] : ["no lease after rerun"]
                 }),
        Scenario(name: "lease release", setup: { c in
                     try c.install("r1", activate: true)
                     c.sleeper = try Background("/bin/sleep", ["600"])
                     let r = try c.trees(["lease", "acquire", "app", "--pid", String(c.sleeper!.pid)])
                     c.leaseID = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                 },
                 command: { c in ["lease", "release", c.leaseID] }, rerunStatuses: [0, 66],
                 after: { c, _ in
                     c.sql("SELECT COUNT(*) FROM leases WHERE id = '\(c.leaseID)'") == "0" ? [] : ["lease still recorded"]
                 }),
        // A job holds r1 by its lease and ignores TERM: every commit of the
        // drain (its start, the step, the signal) can be killed, and the
        // drain run again resumes it: one schedule, the job signalled once.
        Scenario(name: "drain", setup: { c in
                     try c.install("r1", activate: true); try c.install("r2", activate: true)
                     c.sleeper = try Background("/bin/sh", ["-c", "trap '' TERM; exec /bin/sleep 600"], cwd: "/")
                     usleep(100_000)
                     _ = try c.trees(["lease", "acquire", "app@r1", "--pid", String(c.sleeper!.pid)])
                 },
                 command: { _ in ["drain", "app@r1", "--timeout", "1"] }, rerunStatuses: [75],
                 after: { c, _ in
                     var v: [String] = []
                     if c.sql("SELECT COUNT(*) FROM drains") != "1" { v.append("no drain recorded after the rerun") }
                     if c.sql("SELECT COUNT(*) FROM drain_signals WHERE pid = \(c.sleeper!.pid)") != "1" {
                         v.append("the job's TERM recorded \(c.sql("SELECT COUNT(*) FROM drain_signals")) times, not once")
                     }
                     v += c.expectStatus(["exec", "app@r1", "--", "/bin/true"], [75])
                     v += c.expectStatus(["drain", "--cancel", "app@r1"], [0])
                     v += c.expectStatus(["exec", "app@r1", "--", "/bin/true"], [0])
                     return v
                 }),
    ]

    @Test(arguments: scenarios)
    func everyStepOfACommandCanBeKilledAndTheNextCommandSettlesIt(_ scenario: Scenario) throws {
        try killEveryStep(scenario, Context(try Scratch()))
    }

    /// `shared add` (issue 16): a kill at any step leaves the path either
    /// undeclared or declared and in place; run again, it is declared, made
    /// with its mode, and doctor is clean. Its own test, so that it runs
    /// alone with `--filter sharedAdd`.
    static let sharedAdd = Scenario(
        name: "shared add", setup: { c in try c.install("r1", activate: true) },
        command: { _ in ["shared", "app", "add", "var/log", "--mode", "0750"] },
        after: { c, _ in
            var v: [String] = []
            if c.sql("SELECT mode FROM shared_paths WHERE name = 'app' AND path = 'var/log'") != "488" { v.append("var/log not declared 0750") }
            var st = stat()
            if lstat(c.s.root + "/app/shared/var/log", &st) != 0 || st.st_mode & 0o7777 != 0o750 { v.append("shared/var/log missing or not 0750") }
            return v + c.expectStatus(["activate", "app@r1"], [0])
        })

    @Test func sharedAddCanBeKilledAtEveryStep() throws {
        try killEveryStep(CrashPointTests.sharedAdd, Context(try Scratch()))
    }

    /// An install that links a shared path in (and an activate that
    /// prepares it) killed at every step.
    static let installWithShared = Scenario(
        name: "install --activate (shared path)",
        setup: { c in
            try c.install("r1", activate: true)
            _ = try c.trees(["shared", "app", "add", "var/log", "--mode", "0750"])
            c.sharedLinks = ["var", "var/log"]
        },
        command: { c in ["install", "app@r2", c.sources["r2"]!, "--activate"] },
        after: { c, _ in
            var v = c.expectTree("r2") + c.expectCurrent("r2")
            if (try? FileManager.default.destinationOfSymbolicLink(atPath: c.s.root + "/app/r2/var/log")) != "../../shared/var/log" {
                v.append("r2 lacks its link to shared/var/log")
            }
            return v
        })

    @Test func sharedInstallCanBeKilledAtEveryStep() throws {
        try killEveryStep(CrashPointTests.installWithShared, Context(try Scratch()))
    }

    /// The commands that move trees or `current`, run by an operator who is
    /// not root (issue 14): each of its steps, the two renames by which a
    /// tree enters or leaves its place included, can be killed and the next
    /// command settles it, and no tree is ever visible and writable.
    @Test(.uninspectableProcesses, .enabled(if: canMakeUsers, "needs root, useradd and setpriv"),
          arguments: scenarios.filter { ["install (directory)", "install (archive)", "install --activate", "activate",
                                         "rollback", "activate --check (failing)", "gc", "remove"].contains($0.name) })
    func everyStepOfADeployUsersCommandCanBeKilledAndTheNextCommandSettlesIt(_ scenario: Scenario) throws {
        let deploy = try TestUser()
        try killEveryStep(scenario, Context(try Scratch(), user: deploy))
    }

    func killEveryStep(_ scenario: Scenario, _ c: Context) throws {
        defer { c.sleeper?.stop() }
        try scenario.setup(c)
        for rev in ["r1", "r2", "r3"] where c.sources[rev] == nil { try c.source(rev) }
        let template = c.s.path + "/template"
        if FileManager.default.fileExists(atPath: c.s.root) {
            #expect(try run("/bin/cp", ["-a", c.s.root, template]).status == 0)
        }
        let restore = {
            _ = try run("/bin/rm", ["-rf", c.s.root])
            if FileManager.default.fileExists(atPath: template) { _ = try run("/bin/cp", ["-a", template, c.s.root]) }
        }
        var steps = 0, kills = 0
        var violations: [String] = []
        // A non-root operator's trees cross to and from their place with
        // their top writable (see Transit): kill at each chmod too.
        for point in CrashPointTests.points + (c.user == nil ? [] : [Point(syscall: "fchmod")]) {
            var k = 1
            while k <= 500 {
                try restore()
                steps += 1
                let command = scenario.command(c)
                var args = ["-f", "-qq", "-o", "/dev/null"]
                if point.walOnly { args += ["-P", c.s.root + "/.trees/state.db-wal"] }
                args += ["-e", "inject=\(point.syscall):signal=SIGKILL:when=\(k)"]
                let r = try c.traced(args, command)
                if r.stderr.contains("invalid system call") { break } // not on this architecture
                let killed = r.status == 9 || r.status == 137
                let label = "\(scenario.name) \(point)#\(k)"
                if !killed {
                    if !scenario.rerunStatuses.contains(r.status) { violations.append("\(label): completed with \(r.status): \(r.stderr)") }
                    break
                }
                kills += 1
                violations += try c.invariants(strict: false).map { "\(label) after the kill: \($0)" }
                // The next command: the same one again, then a gc that deletes nothing.
                let again = try c.trees(command)
                if !scenario.rerunStatuses.contains(again.status) {
                    violations.append("\(label): rerun exited \(again.status): \(again.stderr)")
                }
                let gc = try c.trees(["gc", "--keep", "100"])
                if gc.status != 0 { violations.append("\(label): gc exited \(gc.status): \(gc.stderr)") }
                violations += try c.invariants(strict: true).map { "\(label) after recovery: \($0)" }
                violations += try scenario.after(c, label).map { "\(label): \($0)" }
                let doctor = try c.trees(["doctor"])
                if doctor.status != 0 { violations.append("\(label): doctor exited \(doctor.status): \(doctor.stdout)\(doctor.stderr)") }
                k += 1
            }
        }
        print("crash-points: \(scenario.name)\(c.user == nil ? "" : " (deploy user)") | steps \(steps) | kills \(kills) | violations \(violations.count)")
        #expect(kills > 0, "\(scenario.name) was never killed: the harness is not injecting")
        #expect(violations.isEmpty, "\(violations.prefix(20).joined(separator: "\n"))")
    }

    /// The harness must be able to fail: a root whose database claims a
    /// ready tree the disk lacks, and one whose current points at nothing, are caught.
    @Test func theInvariantCheckCatchesWhatItIsFor() throws {
        let c = try Context(try Scratch())
        try c.install("r1", activate: true)
        try c.install("r2", activate: false)
        #expect(try c.invariants(strict: true).isEmpty)
        _ = try run("/bin/chmod", ["-R", "u+w", c.s.root + "/app/r2"])
        try FileManager.default.removeItem(atPath: c.s.root + "/app/r2/lib")
        #expect(try !c.invariants(strict: false).isEmpty)
        _ = try run("/bin/rm", ["-rf", c.s.root + "/app/r2"])
        #expect(try !c.invariants(strict: false).isEmpty)
    }
}

extension CrashPointTests.Context {
    /// A small source tree for REV (bigger with TREES_SOAK=1).
    func source(_ rev: String) throws {
        let files = CrashPointTests.soak ? 40 : 2
        for f in 0..<files { try s.write("src-\(rev)/\(f % 2 == 0 ? "lib/" : "")f\(f).txt", "\(rev) file \(f)\n") }
        sources[rev] = s.path + "/src-\(rev)"
    }

    func archive(_ rev: String) throws {
        if sources[rev] == nil { try source(rev) }
        #expect(try run("/bin/tar", ["-cf", s.path + "/src-\(rev).tar", "-C", sources[rev]!, "."]).status == 0)
    }

    func install(_ rev: String, activate: Bool) throws {
        try source(rev)
        let r = try trees(["install", "app@\(rev)", sources[rev]!] + (activate ? ["--activate"] : []))
        #expect(r.status == 0, "\(r.stderr)")
    }

    /// One value (or rows joined by newlines) from the state database; "" when there is none.
    func sql(_ query: String) -> String {
        let db = s.root + "/.trees/state.db"
        guard FileManager.default.fileExists(atPath: db),
              let r = try? run("/usr/bin/sqlite3", ["-separator", "|", db, query]), r.status == 0 else { return "" }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func current() -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: s.root + "/app/current")
    }

    func expectCurrent(_ rev: String) -> [String] {
        current() == rev ? [] : ["current is \(current() ?? "absent"), expected \(rev)"]
    }

    func expectStatus(_ command: [String], _ statuses: Set<Int32>) -> [String] {
        guard let r = try? trees(command) else { return ["\(command) could not run"] }
        return statuses.contains(r.status) ? [] : ["\(command.joined(separator: " ")) exited \(r.status): \(r.stderr)"]
    }

    func expectTree(_ rev: String) -> [String] {
        expectStatus(["verify", "app@\(rev)"], [0])
    }

    /// Whether `tree` holds exactly what `source` does (paths and contents).
    func sameContent(_ tree: String, _ source: String) -> Bool {
        let a = listing(tree).filter { !sharedLinks.contains($0) }, b = listing(source)
        guard a == b else { return false }
        for path in a {
            var isDir: ObjCBool = false
            FileManager.default.fileExists(atPath: source + "/" + path, isDirectory: &isDir)
            if !isDir.boolValue && FileManager.default.contents(atPath: tree + "/" + path) != FileManager.default.contents(atPath: source + "/" + path) {
                return false
            }
        }
        return true
    }

    /// DESIGN.md invariants 1, 2 and 8 on the state as it is. `strict` after
    /// recovery: no half-step may remain (no `installing`, `condemned` or
    /// `deleting` row, no activation intent without its outcome).
    func invariants(strict: Bool) throws -> [String] {
        var v: [String] = []
        let appDir = s.root + "/app"
        // 1. A tree visible at ROOT/NAME/REV is complete and read-only.
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: appDir)) ?? []
        for entry in entries where entry != "current" && entry != "shared" && !entry.hasPrefix(".") {
            guard let source = sources[entry] else { v.append("unexpected app/\(entry)"); continue }
            if !sameContent(appDir + "/" + entry, source) { v.append("app/\(entry) is visible but incomplete") }
            var st = stat()
            if lstat(appDir + "/" + entry, &st) == 0 && st.st_mode & 0o222 != 0 {
                v.append("app/\(entry) is visible and writable (\(String(st.st_mode & 0o7777, radix: 8)))")
            }
        }
        // A tree between staging or the trash and its place, or a link, left behind.
        if strict { for entry in entries where entry.hasPrefix(".") { v.append("app/\(entry) left behind") } }
        // 8. The database never claims more than the disk holds.
        let rows = sql("""
            SELECT t.rev, t.state, t.activated_at IS NOT NULL AND t.deactivated_at IS NULL,
                   (SELECT COUNT(*) FROM manifests m WHERE m.tree_id = t.id) FROM trees t WHERE t.name = 'app'
            """).split(separator: "\n").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
        let pendingIntent = sql("""
            SELECT event FROM history WHERE name = 'app' AND event IN ('activating', 'activated', 'activation-undone')
            ORDER BY id DESC LIMIT 1
            """) == "activating"
        if strict && pendingIntent { v.append("an activation intent was left without its outcome") }
        let current = self.current()
        var state: [String: String] = [:]
        for row in rows where row.count == 4 {
            let (rev, st, recordedCurrent, manifests) = (row[0], row[1], row[2] == "1", row[3])
            state[rev] = st
            if st == "ready" || st == "condemned" {
                if !FileManager.default.fileExists(atPath: appDir + "/" + rev) { v.append("\(rev) is recorded \(st) but missing on disk") }
                if manifests != "1" { v.append("\(rev) is recorded \(st) without a manifest") }
            }
            if strict && ["installing", "condemned", "deleting"].contains(st) { v.append("\(rev) left \(st)") }
            if recordedCurrent && rev != current && !pendingIntent && st != "deleted" {
                v.append("\(rev) is recorded as current but current is \(current ?? "absent")")
            }
            if strict && !recordedCurrent && rev == current { v.append("\(rev) is current but not recorded so") }
        }
        // 2. current points at a complete, ready tree.
        if let current {
            if !FileManager.default.fileExists(atPath: appDir + "/" + current) { v.append("current points at missing \(current)") }
            if state[current] != "ready" { v.append("current points at \(current), which is \(state[current] ?? "unrecorded")") }
        }
        if strict {
            for (rev, st) in state where st == "ready" {
                v += expectTree(rev)
            }
        }
        return v
    }
}
