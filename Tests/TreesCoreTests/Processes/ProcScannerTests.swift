#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import TreesCore
import TreesTestSupport

/// `fixtures/proc/NAME` of this package.
private func fixture(_ name: String) -> String {
    packageDirectory + "/fixtures/proc/" + name
}

private let fixtureRoot = "/srv/trees-fixture"
/// In the fixtures `app/current` points at r7.
private let resolver: @Sendable (TreeName) -> Rev? = { $0.value == "app" ? try? Rev("r7") : nil }

private func ref(_ text: String) -> TreeRef {
    // Test input is always valid; a bad one fails the test loudly.
    do { return try TreeRef(parsing: text) } catch { fatalError("bad test ref \(text)") }
}

/// pid → "NAME@REV" → kinds: comparable in one `#expect`.
private typealias Attribution = [Int32: [String: Set<EvidenceKind>]]

private func attribution(_ scan: ProcScan) -> Attribution {
    var out: Attribution = [:]
    for process in scan.processes {
        out[process.pid] = Dictionary(uniqueKeysWithValues: process.trees.map { ($0.key.description, $0.value) })
    }
    return out
}

/// What `fixtures/proc/basic` shows with `resolver`.
private let basicExpected: Attribution = [
    100: ["app@r1": [.exe]],
    101: ["app@r2": [.cwd]],
    102: ["app@r3": [.root]],
    103: ["app@r4": [.fd], "data@d1": [.fd]],
    104: ["lib@v2": [.maps], "lib@v1": [.maps]],
    105: ["tools@t7": [.environ]],
    106: ["app@r1": [.environ]],
    107: ["app@r6": [.cmdline], "cfg@c1": [.cmdline]],
    108: ["app@r7": [.cmdline]],
    109: ["app@r1": [.cwd]],
    113: ["app@r8": [.exe]],
]

@Suite struct ProcScannerTests {
    // MARK: - Process identity

    @Test(arguments: [
        ("1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 42 100 200", "init", "S", 0, 42),
        ("109 (a) b (c) S 1 109 109 0 -1 4194560 120 0 0 0 3 1 0 0 20 0 1 0 987654321 12345678", "a) b (c", "S", 1, 987654321),
        ("42 (x) S 9 9) R 7 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 3 0 5555 0", "x) S 9 9", "R", 7, 5555),
        ("7 ( spaced  name ) Z 3 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 -5 1 0 18446744073709551615 0\n", " spaced  name ", "Z", 3, UInt64.max),
    ] as [(String, String, String, Int32, UInt64)])
    func parseStatCountsFieldsFromTheLastParenthesis(line: String, comm: String, state: String, ppid: Int32, startTime: UInt64) throws {
        let parsed = try #require(ProcFS.parseStat(line))
        #expect(parsed.comm == comm)
        #expect(String(parsed.state) == state)
        #expect(parsed.ppid == ppid)
        #expect(parsed.startTime == startTime)
    }

    @Test(arguments: ["", "1 init S 0", "1 (init) S 0 1 1", "1 (init) SS 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 0", "1 (init) S x 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 0"])
    func parseStatRejectsMalformedLines(line: String) {
        #expect(ProcFS.parseStat(line) == nil)
    }

    @Test func startTimeAndBootIDComeFromTheProcRoot() throws {
        #expect(ProcFS.startTime(pid: 109, procRoot: fixture("basic")) == 987654321)
        #expect(ProcFS.startTime(pid: 100, procRoot: fixture("basic")) == 100007)
        #expect(ProcFS.startTime(pid: 4242, procRoot: fixture("basic")) == nil)
        #expect(try ProcFS.bootID(procRoot: fixture("basic")) == "3f0c1a52-8a1e-4c4e-9d55-1a2b3c4d5e6f")
        #expect(throws: TreesError.self) { try ProcFS.bootID(procRoot: fixture("missing")) }
    }

    @Test func startTimeOfThisProcessMatchesItsStat() throws {
        let own = try #require(ProcFS.startTime(pid: getpid()))
        #expect(own > 0)
        #expect(ProcFS.startTime(pid: getpid()) == own)
        #expect(try ProcFS.bootID().count == 36)
    }

    // MARK: - Parsing

    @Test(arguments: [
        ("PATH=/usr/bin:/srv/t/app/r1/bin:/bin", ["app@r1"]),
        ("--config=/srv/t/app/r1/c.ini", ["app@r1"]),
        ("/srv/t/app/r1", ["app@r1"]),
        ("/srv/t/app/r1:/srv/t/lib/v2.1+b-3_x/x", ["app@r1", "lib@v2.1+b-3_x"]),
        ("/srv/t/app/current/job.py", ["app@r7"]),
        ("/srv/t/other/current/job.py", []),
        ("/srv/t/.trees/staging/app/r1", []),
        ("/srv/tx/app/r1 /srv/t-old/app/r1", []),
        ("/srv/t/App/r1 /srv/t/app/ /srv/t/app", []),
        ("x\u{0}/srv/t/a/b\u{0}y", ["a@b"]),
    ] as [(String, [String])])
    func textAttributesEveryOccurrenceOfTheRoot(text: String, expected: [String]) {
        var matcher = ProcPathMatcher(roots: ["/srv/t"], resolveCurrent: resolver)
        #expect(matcher.trees(inText: Array(text.utf8)[...]).map(\.description) == expected)
    }

    @Test(arguments: [
        ("/srv/t/app/r1", "app@r1"),
        ("/srv/t/app/r1/lib/x.so", "app@r1"),
        ("/srv/t/app/r1 (deleted)", "app@r1"),
        ("/srv/t/app/r1/my lib/x.so (deleted)", "app@r1"),
        ("/srv/t/app/r1:x/y", nil),
        ("/srv/t/app", nil),
        ("/srv/t/.trees/trash/app/r1", nil),
        ("/home/srv/t/app/r1", nil),
        ("socket:[1234]", nil),
    ] as [(String, String?)])
    func kernelPathsNeedWholeComponents(path: String, expected: String?) {
        var matcher = ProcPathMatcher(roots: ["/srv/t"], resolveCurrent: nil)
        #expect(matcher.tree(ofKernelPath: Array(path.utf8)[...])?.description == expected)
    }

    @Test func environmentNamesATreeDirectly() {
        var matcher = ProcPathMatcher(roots: ["/srv/t"], resolveCurrent: resolver)
        let block = Array("HOME=/root\u{0}TREES_TREE=app@r9\u{0}TREES_TREE=bad\u{0}X=TREES_TREE=no@r1\u{0}TREES_TREE=app@current\u{0}TREES_ROOT=/srv/t\u{0}".utf8)
        #expect(matcher.trees(inEnvironment: block).map(\.description) == ["app@r9", "app@r7"])
    }

    /// The marker counts only with a TREES_ROOT naming this root: spelled
    /// the same, or the same directory by identity (`namesRoot`).
    @Test(arguments: [
        ("TREES_TREE=app@r9", nil, false),
        ("TREES_TREE=app@r9\u{0}TREES_ROOT=/srv/other", nil, false),
        ("TREES_TREE=app@r9\u{0}TREES_ROOT=/srv/t/", nil, true),
        ("TREES_TREE=app@r9\u{0}TREES_ROOT=/link/t", "/link/t", true),
        ("TREES_TREE=app@r9\u{0}TREES_ROOT=/link/t", "/elsewhere", false),
    ] as [(String, String?, Bool)])
    func environmentMarkerNeedsThisRoot(environ: String, sameDirectory: String?, counts: Bool) {
        var matcher = ProcPathMatcher(roots: ["/srv/t"], resolveCurrent: resolver)
        let found = matcher.trees(inEnvironment: Array(environ.utf8), namesRoot: { Array($0) == Array((sameDirectory ?? "").utf8) })
        #expect(found.map(\.description) == (counts ? ["app@r9"] : []))
    }

    @Test(arguments: [
        ("7f1c2a000000-7f1c2a010000 r--p 00000000 08:01 5678                       /srv/t/lib/v2/plug ins/a b.so", "/srv/t/lib/v2/plug ins/a b.so"),
        ("7f1c2b000000-7f1c2b001000 r--p 00000000 08:01 9999 /x (deleted)", "/x (deleted)"),
        ("7f1c2d000000-7f1c2d021000 rw-p 00000000 00:00 0                          [heap]", nil),
        ("7f1c2e000000-7f1c2e021000 rw-p 00000000 00:00 0 ", nil),
        ("7f1c2e000000-7f1c2e021000 rw-p 00000000 00:00 0", nil),
    ] as [(String, String?)])
    func mapsPathIsTheRestOfTheLine(line: String, expected: String?) {
        let path = ProcMaps.path(ofLine: Array(line.utf8)[...])
        #expect(path.map { String(decoding: $0, as: UTF8.self) } == expected)
    }

    @Test(arguments: [
        ("rw,relatime", "/proc", nil),
        ("rw,hidepid=0", "/proc", nil),
        ("rw,hidepid=off,gid=4", "/proc", nil),
        ("rw,hidepid=2", "/proc", "2"),
        ("rw,hidepid=ptraceable,gid=4", "/proc", "ptraceable"),
        ("rw,hidepid=invisible", "/fake/proc", "invisible"),
    ] as [(String, String, String?)])
    func hidepidIsReadFromTheProcMount(superOptions: String, mountPoint: String, expected: String?) {
        let info = "27 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
            + "22 27 0:21 / /proc rw,nosuid,relatime shared:13 - proc proc \(superOptions)\n"
        #expect(ProcFS.hidepid(inMountInfo: Array(info.utf8), mountPoint: mountPoint) == expected)
    }

    @Test func hidepidOfTheScannedMountWinsOverOthers() {
        let info = "22 27 0:21 / /proc rw - proc proc rw,hidepid=off\n"
            + "40 27 0:30 / /my\\040proc rw - proc proc rw,hidepid=2\n"
        #expect(ProcFS.hidepid(inMountInfo: Array(info.utf8), mountPoint: "/proc") == nil)
        #expect(ProcFS.hidepid(inMountInfo: Array(info.utf8), mountPoint: "/my proc") == "2")
    }

    @Test func evidenceKindsSortInDeclarationOrder() {
        #expect(EvidenceKind.allCases.reversed().sorted() == EvidenceKind.allCases)
        #expect(EvidenceKind.lease < .exe && .cmdline < .cgroup)
    }

    // MARK: - Scanning fixtures

    @Test func fixtureScanAttributesEachKindOfEvidence() throws {
        let scan = try ProcScanner(treesRoot: fixtureRoot, procRoot: fixture("basic"), currentResolver: resolver).scan()
        #expect(attribution(scan) == basicExpected)
        #expect(scan.unknown.isEmpty)
        #expect(scan.processes.map(\.pid) == scan.processes.map(\.pid).sorted())

        let weird = try #require(scan.processes.first { $0.pid == 109 })
        #expect(weird.startTime == 987654321)
        #expect(weird.uid == 1000)
        #expect(weird.command == "weird")
        let server = try #require(scan.processes.first { $0.pid == 100 })
        #expect(server.command == "server --port 8080")
        #expect(server.uid == 0)
        #expect(server.startTime == 100007)
        // The main thread of 113 exited: its process is still found, through thread 114.
        #expect(scan.processes.first { $0.pid == 113 }?.command == "worker --threads 2")

        #expect(scan.holders(of: ref("app@r1")).map(\.pid) == [100, 106, 109])
        #expect(scan.holders(of: ref("app@r5")).isEmpty)
    }

    @Test func currentIsNotAttributedWithoutAResolver() throws {
        let scan = try ProcScanner(treesRoot: fixtureRoot, procRoot: fixture("basic")).scan()
        var expected = basicExpected
        expected[108] = nil
        #expect(attribution(scan) == expected)
    }

    @Test func aRootWithATrailingSlashMatchesTheSame() throws {
        let scan = try ProcScanner(treesRoot: fixtureRoot + "//", procRoot: fixture("basic"), currentResolver: resolver).scan()
        #expect(attribution(scan) == basicExpected)
    }

    @Test func aRelativeRootIsRefused() {
        #expect(throws: TreesError.self) { try ProcScanner(treesRoot: "srv/trees", procRoot: fixture("basic")).scan() }
    }

    @Test(arguments: [
        ProcReadFailure(pid: 105, file: "environ", errno: EACCES, reason: "environ: Permission denied", trees: nil),
        ProcReadFailure(pid: 107, file: "exe", errno: EACCES, reason: "exe: Permission denied",
                        trees: ["app@r6": [.cmdline], "cfg@c1": [.cmdline]]),
        ProcReadFailure(pid: 103, file: "fd/3", errno: EPERM, reason: "fd: Operation not permitted", trees: ["data@d1": [.fd]]),
        ProcReadFailure(pid: 100, file: "exe", errno: EACCES, more: ["cwd", "fd/0", "fd/2", "environ"],
                        reason: "exe, cwd, fd, environ: Permission denied", trees: nil),
        ProcReadFailure(pid: 103, file: "fd", errno: EACCES, reason: "fd: Permission denied", trees: nil),
        ProcReadFailure(pid: 104, file: "maps", errno: EIO, reason: "maps: Input/output error", trees: nil),
        ProcReadFailure(pid: 104, file: "", errno: EACCES, reason: "104: Permission denied", trees: nil),
        ProcReadFailure(pid: 102, file: "stat", errno: EACCES, reason: "stat: Permission denied", trees: nil),
        // Vanished mid-scan: skipped, neither evidence nor unknown.
        ProcReadFailure(pid: 100, file: "maps", errno: ESRCH, reason: nil, trees: nil),
        ProcReadFailure(pid: 101, file: "cwd", errno: ENOENT, reason: nil, trees: nil),
        ProcReadFailure(pid: 106, file: "", errno: ENOENT, reason: nil, trees: nil),
        // A descriptor closed between listing and reading it is just gone.
        ProcReadFailure(pid: 103, file: "fd/4", errno: ENOENT, reason: nil, trees: ["app@r4": [.fd]]),
        // Kernel threads are never unknown: by PF_KTHREAD, or by no exe and no arguments.
        ProcReadFailure(pid: 111, file: "exe", errno: EACCES, reason: nil, trees: nil),
        ProcReadFailure(pid: 112, file: "cwd", errno: EACCES, reason: nil, trees: nil),
    ])
    func failuresMakeOnlyTheirProcessUnknown(_ failure: ProcReadFailure) throws {
        let scanner = ProcScanner(treesRoot: fixtureRoot, procRoot: fixture("basic"), currentResolver: resolver)
        let reader = FailingReader(base: try SystemProcReader(procRoot: fixture("basic")), failure: failure)
        let scan = try scanner.scan(using: reader)

        #expect(scan.unknown.map(\.pid) == (failure.reason == nil ? [] : [failure.pid]))
        #expect(scan.unknown.first?.reason == failure.reason)
        var expected = basicExpected
        expected[failure.pid] = failure.trees
        #expect(attribution(scan) == expected)
    }

    @Test func anUnknownProcessStillShowsItsCommand() throws {
        let failure = ProcReadFailure(pid: 107, file: "environ", errno: EACCES)
        let scanner = ProcScanner(treesRoot: fixtureRoot, procRoot: fixture("basic"))
        let scan = try scanner.scan(using: FailingReader(base: try SystemProcReader(procRoot: fixture("basic")), failure: failure))
        let unknown = try #require(scan.unknown.first)
        #expect(unknown.command == "python3 /srv/trees-fixture/app/r6/job.py --config=/srv/trees-fixture/cfg/c1/c.ini")
    }

    /// A scan that lacks CAP_SYS_PTRACE or CAP_DAC_READ_SEARCH marks
    /// another user's process, refused throughout, `lacksPrivilege` (one of
    /// many alike, counted and explained once); its own user's, one that
    /// failed otherwise, or any seen by a privileged scan is listed as before.
    /// Either way it stays unknown. Pid 105 is uid 0's in the fixture.
    @Test(arguments: [
        (uid_t(1000), EACCES, ["CAP_SYS_PTRACE"], true),
        (uid_t(1000), EPERM, ["CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"], true),
        (uid_t(0), EACCES, ["CAP_SYS_PTRACE"], false),
        (uid_t(1000), EIO, ["CAP_SYS_PTRACE"], false),
        (uid_t(1000), EACCES, [], false),
    ])
    func otherUsersProcessesRefusedForWantOfPrivilegeAreCountedOnce(euid: uid_t, errno: Int32, missing: [String], counted: Bool) throws {
        var scanner = ProcScanner(treesRoot: fixtureRoot, procRoot: fixture("basic"), currentResolver: resolver)
        scanner.effectiveUID = euid
        scanner.missingCapabilities = missing
        let failure = ProcReadFailure(pid: 105, file: "environ", errno: errno)
        let scan = try scanner.scan(using: FailingReader(base: try SystemProcReader(procRoot: fixture("basic")), failure: failure))
        #expect(scan.unknown.map(\.pid) == [105])
        #expect(scan.unknown.first?.lacksPrivilege == counted)
        let report = UsageReport(holders: [], unknown: scan.unknown, missingCapabilities: scan.missingCapabilities)
        #expect(report.othersUninspectable.count == (counted ? 1 : 0))
        #expect(report.unknownListed.count == (counted ? 0 : 1))
        #expect((report.privilegeNotice?.contains(missing.joined(separator: " and ")) ?? false) == counted, "\(report.privilegeNotice ?? "")")
    }

    @Test(arguments: [(uid_t(1000), true), (uid_t(0), false)])
    func hidepidHidesProcessesFromNonRoot(euid: uid_t, reported: Bool) throws {
        var scanner = ProcScanner(treesRoot: fixtureRoot, procRoot: fixture("hidepid"))
        scanner.effectiveUID = euid
        let scan = try scanner.scan()
        #expect(attribution(scan) == [100: ["app@r1": [.exe]]])
        #expect(scan.unknown.map(\.pid) == (reported ? [0] : []))
        #expect(scan.unknown.allSatisfy { $0.reason.contains("hidepid=invisible") })
    }

    /// A process whose files block the reader (a stalled FUSE daemon, a
    /// locked memory map) is given up after the deadline as unknown; every
    /// other process is still judged, and the scan returns in bounded time.
    @Test(arguments: [1, 2])
    func aBlockedProcessIsUnknownAfterTheDeadline(workers: Int) throws {
        var scanner = ProcScanner(treesRoot: fixtureRoot, procRoot: fixture("basic"), currentResolver: resolver)
        scanner.inspectionDeadline = 0.3
        scanner.workers = workers
        scanner.parallelThreshold = 1
        let reader = BlockingReader(base: try SystemProcReader(procRoot: fixture("basic")), blocked: 103, seconds: 5)
        let start = monotonicNow()
        let scan = try scanner.scan(using: reader)
        let took = monotonicNow() - start
        #expect(took < 2, "the scan took \(took) s")
        #expect(scan.unknown.map(\.pid) == [103])
        #expect(scan.unknown.first?.reason.contains("not judged within") == true)
        var expected = basicExpected
        expected[103] = nil
        #expect(attribution(scan) == expected)
    }

    /// A fake proc root gives no identity for its links: every file kind is
    /// placed by its spelling, the fallback, and the scan says so.
    /// Every process blocks: the scan's budget ends it, and each process
    /// not judged by then is unknown (fail closed), in bounded time.
    @Test func theScanEndsWithinItsBudget() throws {
        var scanner = ProcScanner(treesRoot: fixtureRoot, procRoot: fixture("basic"), currentResolver: resolver)
        scanner.inspectionDeadline = 5
        scanner.scanBudget = 0.5
        let base = try SystemProcReader(procRoot: fixture("basic"))
        let pids = try base.processIDs()
        let start = monotonicNow()
        let scan = try scanner.scan(using: BlockingReader(base: base, blocked: nil, seconds: 3))
        #expect(monotonicNow() - start < 2)
        #expect(Set(scan.unknown.map(\.pid)) == Set(pids))
        #expect(scan.unknown.allSatisfy { $0.reason.contains("ran out") })
    }

    @Test func withoutIdentityFileEvidenceIsMarkedAsPlacedBySpelling() throws {
        let scan = try ProcScanner(treesRoot: fixtureRoot, procRoot: fixture("basic"), currentResolver: resolver).scan()
        let fileKinds: Set<EvidenceKind> = [.exe, .cwd, .root, .fd, .maps]
        #expect(scan.processes.contains { !$0.bySpelling.isEmpty })
        for process in scan.processes {
            for (tree, kinds) in process.trees {
                #expect(process.bySpelling[tree] ?? [] == kinds.intersection(fileKinds), "pid \(process.pid) on \(tree)")
            }
        }
    }

    @Test func aProcRootWithoutMountinfoIsNotReportedAsHidden() throws {
        var scanner = ProcScanner(treesRoot: fixtureRoot, procRoot: fixture("basic"), currentResolver: resolver)
        scanner.effectiveUID = 1000
        #expect(try scanner.scan().unknown.isEmpty)
    }
}

/// One injected failure and what the scan must make of it.
struct ProcReadFailure: Sendable, CustomTestStringConvertible {
    var pid: Int32
    /// Relative to the pid directory; "" is the directory itself.
    var file: String
    var errno: Int32
    /// Further files of the same process that fail the same way.
    var more: [String] = []
    /// The `reason` of the one unknown process, or nil when none may appear.
    var reason: String? = nil
    /// What the pid is attributed to afterwards (nil: not listed).
    var trees: [String: Set<EvidenceKind>]? = nil

    var testDescription: String { "\(pid)/\(file) errno \(errno)" }
}

/// Wraps the real reader and sleeps on opening one process, as a read
/// blocked in the kernel would; a second worker gets a reader of its own.
private struct BlockingReader: ProcReader {
    let base: any ProcReader
    /// The pid whose directory blocks; nil: every one.
    let blocked: Int32?
    let seconds: UInt32

    func processIDs() throws -> [Int32] { try base.processIDs() }
    func mountInfo() throws(ProcFileError) -> [UInt8] { try base.mountInfo() }
    func forWorker() throws -> (any ProcReader)? {
        try base.forWorker().map { BlockingReader(base: $0, blocked: blocked, seconds: seconds) }
    }

    func process(_ pid: Int32) throws(ProcFileError) -> any ProcessFiles {
        if blocked == nil || pid == blocked { sleep(seconds) }
        return try base.process(pid)
    }
}

/// Wraps the real reader and fails one file of one process.
private struct FailingReader: ProcReader {
    let base: any ProcReader
    let failure: ProcReadFailure

    func processIDs() throws -> [Int32] { try base.processIDs() }

    func process(_ pid: Int32) throws(ProcFileError) -> any ProcessFiles {
        guard pid == failure.pid else { return try base.process(pid) }
        if failure.file.isEmpty { throw ProcFileError(file: String(pid), errno: Errno(failure.errno)) }
        return FailingFiles(base: try base.process(pid), failure: failure)
    }

    func mountInfo() throws(ProcFileError) -> [UInt8] { try base.mountInfo() }
}

private struct FailingFiles: ProcessFiles {
    let base: any ProcessFiles
    let failure: ProcReadFailure

    private func check(_ file: String) throws(ProcFileError) {
        if file == failure.file || failure.more.contains(file) { throw ProcFileError(file: file, errno: Errno(failure.errno)) }
    }

    func read(_ file: String) throws(ProcFileError) -> [UInt8] { try check(file); return try base.read(file) }
    func readLink(_ file: String) throws(ProcFileError) -> [UInt8] { try check(file); return try base.readLink(file) }
    func list(_ directory: String) throws(ProcFileError) -> [String] { try check(directory); return try base.list(directory) }
    func subdirectory(_ path: String) throws(ProcFileError) -> any ProcessFiles {
        try check(path)
        return FailingFiles(base: try base.subdirectory(path), failure: failure)
    }
}

// MARK: - The real /proc

extension ProcScannerTests {
    @Test func realProcAttributesAChildByItsWorkingDirectory() throws {
        var template = Array("/tmp/trees-procscan-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template).map({ String(cString: $0) }) else {
            Issue.record("mkdtemp failed: errno \(errno)")
            return
        }
        // /proc shows canonical paths, and /tmp may itself be a symlink.
        let base = try #require(canonicalPath(made))
        let root = base + "/root", tree = root + "/app/r1"
        for dir in [root, root + "/app", tree] { #expect(mkdir(dir, 0o755) == 0) }
        #expect(symlink("root", base + "/link") == 0)
        defer {
            for dir in [tree, root + "/app", root] { rmdir(dir) }
            unlink(base + "/link")
            rmdir(base)
        }

        let pid = try #require(spawnSleeper(in: tree, environment: ["PATH=/usr/bin:/bin"]))
        defer { reap(pid) }

        // The canonical root, and a symlink to it: the kernel reports the former.
        for treesRoot in [root, base + "/link"] {
            let scan = try ProcScanner(treesRoot: treesRoot).scan()
            let child = try #require(scan.processes.first(where: { $0.pid == pid }), "child not attributed with root \(treesRoot)")
            #expect(child.trees == [ref("app@r1"): Set<EvidenceKind>([.cwd])])
            #expect(child.command == "/bin/sleep 30")
            #expect(child.startTime == ProcFS.startTime(pid: pid))
            #expect(child.uid == getuid())
            #expect(!scan.unknown.contains(where: { $0.pid == pid }))
            // Not `== [pid]`: a job of another root running in parallel with
            // TREES_TREE=app@r1 counts too (that variable names no root).
            #expect(scan.holders(of: ref("app@r1")).contains { $0.pid == pid })
        }
    }
}

extension ProcScannerTests {
    /// One scan works out an environment once for processes that share it,
    /// but a relative word names a different file from each working
    /// directory: the same bytes from `ROOT/app` (where `r1/lib` is in
    /// app@r1) and from elsewhere (where it is nothing) are two answers,
    /// whichever process is inspected first.
    @Test func aSharedEnvironmentIsJudgedFromEachProcessesDirectory() throws {
        let t = try TempDir()
        let base = try #require(canonicalPath(t.path))
        let root = base + "/root", tree = root + "/app/r1"
        for dir in [root, root + "/app", tree, tree + "/lib", base + "/elsewhere"] { #expect(mkdir(dir, 0o755) == 0) }
        var pids: [pid_t] = []
        defer { pids.forEach(reap) }
        // Outside first, so that a cache keyed by the bytes alone would
        // hand its empty answer to the process inside.
        for cwd in [base + "/elsewhere", root + "/app", base + "/elsewhere"] {
            pids.append(try #require(spawnSleeper(in: cwd, environment: ["DATA=r1/lib"])))
        }
        for workers in [1, 2] {
            var scanner = ProcScanner(treesRoot: root)
            scanner.workers = workers
            scanner.parallelThreshold = 1
            let scan = try scanner.scan()
            let inside = scan.processes.first { $0.pid == pids[1] }
            #expect(inside?.trees == [ref("app@r1"): Set<EvidenceKind>([.environ])], "workers \(workers)")
            #expect(!scan.processes.contains { $0.pid == pids[0] || $0.pid == pids[2] }, "workers \(workers)")
        }
    }
}

@Suite struct TwoWorkerScanTests {
    /// The live /proc scanned on one thread and on two gives the same
    /// evidence for jobs planted in a temporary root: per-worker caches and
    /// readers lose and duplicate nothing, and the order stays by pid.
    @Test func twoWorkersFindWhatOneFinds() throws {
        var template = Array("/tmp/trees-workers-XXXXXX".utf8CString)
        let base = try #require(mkdtemp(&template).map { String(cString: $0) }.flatMap(canonicalPath))
        let root = base + "/root"
        let dirs = [root, root + "/app", root + "/app/r1", root + "/app/r2"]
        for dir in dirs { #expect(mkdir(dir, 0o755) == 0) }
        var jobs: [pid_t] = []
        defer {
            for pid in jobs { kill(pid, SIGKILL); var status: Int32 = 0; waitpid(pid, &status, 0) }
            for dir in dirs.reversed() { rmdir(dir) }
            rmdir(base)
        }
        for (i, rev) in ["r1", "r2", "r1", "r2", "r1"].enumerated() {
            var pid: pid_t = 0
            // Even: cwd in the tree. Odd: an environment value naming a path in it.
            let words: [String] = ["/bin/sh", "-c", (i % 2 == 0 ? "cd \(root)/app/\(rev) && " : "") + "exec /bin/sleep 30"]
            let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
            let envp: [UnsafeMutablePointer<CChar>?] = [strdup(i % 2 == 0 ? "A=b" : "JOB_FILE=\(root)/app/\(rev)/x"), nil]
            defer { (argv + envp).forEach { free($0) } }
            #expect(posix_spawn(&pid, "/bin/sh", nil, nil, argv, envp) == 0)
            jobs.append(pid)
        }
        usleep(300_000)
        var serial = ProcScanner(treesRoot: root)
        serial.workers = 1
        var parallel = ProcScanner(treesRoot: root)
        parallel.parallelThreshold = 1
        func planted(_ scan: ProcScan) -> [String] {
            scan.processes.filter { jobs.contains($0.pid) }
                .map { "\($0.pid) " + $0.trees.keys.map(\.description).sorted().joined(separator: ",") }
        }
        let one = try serial.scan(), two = try parallel.scan()
        #expect(planted(one).count == jobs.count, "\(planted(one))")
        #expect(planted(two) == planted(one))
        #expect(two.processes.map(\.pid) == two.processes.map(\.pid).sorted())
    }
}
