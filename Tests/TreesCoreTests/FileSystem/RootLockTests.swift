import Foundation
import Testing
@testable import TreesCore

/// The root's lock files: one case each, one opener, and a lock held for
/// exactly the closure it scopes, as another descriptor sees it.
@Suite struct RootLockTests {
    /// Whether an exclusive `flock` on `path` can be had right now by a
    /// descriptor of its own (closed at once, letting go of what it took).
    private func isFree(_ path: String) throws -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        try #require(fd >= 0)
        defer { close(fd) }
        return flock(fd, LOCK_EX | LOCK_NB) == 0
    }

    /// The file names are what existing roots and operators' tooling know.
    @Test(arguments: [(RootLock.install, "install.lock"), (.gc, "gc.lock"), (.migrate, "migrate.lock"), (.write, "write.lock")])
    func eachLockNamesItsFileAndANewRootHasItPrivate(lock: RootLock, file: String) throws {
        let t = try TempDir()
        let root = try Root.create(t.path + "/root")
        #expect(lock.fileName == file)
        var st = stat()
        #expect(stat(root.path + "/.trees/" + file, &st) == 0 && st.st_mode & 0o777 == 0o600)
    }

    @Test(arguments: RootLock.allCases)
    func withLockHoldsTheLockForTheClosureAndReleasesItAfter(lock: RootLock) throws {
        let t = try TempDir()
        let root = try Root.create(t.path + "/root")
        let path = root.path + "/.trees/" + lock.fileName
        #expect(try isFree(path))
        let ran = try root.withLock(lock) {
            let free = try isFree(path)
            #expect(!free, "\(lock.fileName) free inside withLock")
            return true
        }
        #expect(ran)
        let freeAfter = try isFree(path)
        #expect(freeAfter, "\(lock.fileName) still held after withLock")
        // Held even when the closure throws, and released as it leaves.
        struct Thrown: Error {}
        #expect(throws: Thrown.self) {
            try root.withLock(lock, wait: false) {
                #expect(try !isFree(path))
                throw Thrown()
            }
        }
        #expect(try isFree(path))
    }

    @Test(arguments: RootLock.allCases)
    func aLockHeldElsewhereIsReportedNotWaitedForOrTimesOut(lock: RootLock) throws {
        let t = try TempDir()
        let root = try Root.create(t.path + "/root", settings: Settings(lockTimeout: 0.2))
        let path = root.path + "/.trees/" + lock.fileName
        let holder = open(path, O_RDONLY | O_CLOEXEC)
        defer { close(holder) }
        #expect(flock(holder, LOCK_EX | LOCK_NB) == 0)

        var ran = false
        #expect(try root.withLock(lock, wait: false) { ran = true } == nil)
        #expect(!ran)
        #expect(try root.tryingLock(lock) { held in held } == false)
        #expect { try root.withLock(lock) { ran = true } } throws: { ($0 as? TreesError)?.code == .temporary }
        #expect(!ran)

        flock(holder, LOCK_UN)
        #expect(try root.tryingLock(lock) { held in try held && !isFree(path) })
        #expect(try isFree(path))
    }
}
