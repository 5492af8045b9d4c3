import Foundation
import Testing
@testable import TreesCore

/// `Settings.fromEnvironment`: each variable's good values parse to what
/// they say, and each bad one is a usage error naming the variable, never a
/// silent default.
@Suite struct SettingsTests {
    @Test func theEnvironmentIsReadOnlyWhenTheCallerAsks() throws {
        let settings = try Settings.fromEnvironment(["TREES_LOCK_TIMEOUT": "2.5", "TREES_IGNORE_UNKNOWN_PIDS": "1, 7",
                                                     "TREES_CGROUP_PARENT": "/jobs"])
        #expect(settings == Settings(lockTimeout: 2.5, ignoredUnknownPIDs: [1, 7], cgroupParent: "/jobs"))
        #expect(try Settings.fromEnvironment([:]) == Settings())
    }

    /// An empty variable counts as unset, for each of them.
    @Test(arguments: ["TREES_LOCK_TIMEOUT", "TREES_IGNORE_UNKNOWN_PIDS", "TREES_CGROUP_PARENT"])
    func anEmptyValueIsTheDefault(_ key: String) throws {
        #expect(try Settings.fromEnvironment([key: ""]) == Settings())
    }

    @Test(arguments: [("0", 0), ("2.5", 2.5), ("30", 30), ("600", 600), ("1e1", 10), (".5", 0.5)] as [(String, Double)])
    func lockTimeoutTakesSecondsOfZeroOrMore(_ text: String, _ seconds: Double) throws {
        #expect(try Settings.fromEnvironment(["TREES_LOCK_TIMEOUT": text]).lockTimeout == seconds)
    }

    @Test(arguments: ["soon", "-1", "-0.5", "5s", " 5", "inf", "nan", "1,5", "0x"])
    func lockTimeoutRefuses(_ text: String) {
        expectUsageError(["TREES_LOCK_TIMEOUT": text], naming: "TREES_LOCK_TIMEOUT")
    }

    @Test(arguments: [("1", [1]), ("1, 7", [1, 7]), ("4242,1", [1, 4242]), ("1,1", [1]), ("7,,9", [7, 9]),
                      ("2147483647", [Int32.max])] as [(String, Set<Int32>)])
    func ignoredPidsAreCommaSeparated(_ text: String, _ pids: Set<Int32>) throws {
        #expect(try Settings.fromEnvironment(["TREES_IGNORE_UNKNOWN_PIDS": text]).ignoredUnknownPIDs == pids)
    }

    @Test(arguments: ["x", "1,x", "0", "-3", "1 ", "1;2", "2147483648", "1.5"])
    func ignoredPidsRefuse(_ text: String) {
        expectUsageError(["TREES_IGNORE_UNKNOWN_PIDS": text], naming: "TREES_IGNORE_UNKNOWN_PIDS")
    }

    /// Taken as given; the cgroup code judges the path when it is used.
    @Test(arguments: ["/jobs", "trees.slice/jobs", "/a b"])
    func cgroupParentIsTakenAsGiven(_ text: String) throws {
        #expect(try Settings.fromEnvironment(["TREES_CGROUP_PARENT": text]).cgroupParent == text)
    }

    /// A bad value is quoted in the message, escaped and cut to 64 characters.
    @Test func aBadValueIsShownSafely() throws {
        let long = "\u{1B}[2J" + String(repeating: "9", count: 100)
        let error = try #require(throws: TreesError.self) {
            try Settings.fromEnvironment(["TREES_LOCK_TIMEOUT": long])
        }
        #expect(error.message.hasSuffix("got " + quoted(String(long.prefix(64)))), "\(error.message)")
        #expect(!error.message.contains("\u{1B}"))
    }

    private func expectUsageError(_ environment: [String: String], naming key: String,
                                  sourceLocation: SourceLocation = #_sourceLocation) {
        let error = #expect(throws: TreesError.self, sourceLocation: sourceLocation) {
            try Settings.fromEnvironment(environment)
        }
        #expect(error?.code == .usage && error?.exitStatus == 64, sourceLocation: sourceLocation)
        #expect(error?.message.hasPrefix(key + " must be") == true, "\(error?.message ?? "")", sourceLocation: sourceLocation)
    }

    /// The core takes its lock timeout from the caller's `Settings`, not from
    /// the environment: a store of a root opened with 0.3 s gives up on a held
    /// write lock within about that.
    @Test func theStoreWaitsAsLongAsTheRootsSettingsSay() throws {
        let t = try TempDir()
        let root = try Root.create(t.path + "/root", settings: Settings(lockTimeout: 0.3))
        let store = try root.openStore(create: true)
        let fd = open(t.path + "/root/.trees/write.lock", O_RDWR | O_CLOEXEC)
        defer { close(fd) }
        #expect(flock(fd, LOCK_EX) == 0)
        let started = Date()
        #expect(throws: TreesError.self) { try store.write { try store.record("app", "r1", event: .installed) } }
        let waited = Date().timeIntervalSince(started)
        #expect(waited >= 0.25 && waited < 5, "waited \(waited)s")
    }

    @Test func vouchedForPidsReachTheScanner() throws {
        let t = try TempDir()
        let root = try Root.create(t.path + "/root", settings: Settings(ignoredUnknownPIDs: [4242]))
        #expect(UsageScanner(root: root, store: nil).ignoredUnknownPIDs == [4242])
    }
}
