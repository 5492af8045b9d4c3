import Foundation
import Testing
@testable import TreesCore

/// The lease lock itself: shared for jobs, exclusive (never waiting) for gc.
@Suite struct TreeLockTests {
    @Test func jobsShareTheLockAndGCFindsItHeldUntilTheLastOneLetsGo() throws {
        let t = try TempDir()
        let (root, _) = try installThreeRevisions(t)
        let ref = try TreeRef(parsing: "app@r1")
        let first = try TreeLock.shared(ref, in: root)
        let second = try TreeLock.shared(ref, in: root)
        #expect(first != nil && second != nil)
        guard case .held = try TreeLock.exclusive(ref, in: root, create: true) else {
            Issue.record("gc took the lock while two jobs held it")
            return
        }
        _ = consume first
        guard case .held = try TreeLock.exclusive(ref, in: root, create: true) else {
            Issue.record("gc took the lock while one job still held it")
            return
        }
        _ = consume second
        guard case .taken(let lock?) = try TreeLock.exclusive(ref, in: root, create: true) else {
            Issue.record("gc could not take a lock nobody holds")
            return
        }
        #expect(lock.tree == ref)
    }

    @Test func withSharedHoldsTheLockForTheClosureAndNoLonger() throws {
        let t = try TempDir()
        let (root, _) = try installThreeRevisions(t)
        let ref = try TreeRef(parsing: "app@r1")
        try TreeLock.withShared(ref, in: root) { _ in
            guard case .held = try TreeLock.exclusive(ref, in: root, create: true) else {
                Issue.record("gc took the lock inside withShared")
                return
            }
        }
        guard case .taken(_?) = try TreeLock.exclusive(ref, in: root, create: true) else {
            Issue.record("the lock was still held after withShared")
            return
        }
    }

    @Test func aJobWaitsForGCOnlyUntilItsTimeoutThenIsToldWhoHoldsIt() throws {
        let t = try TempDir()
        let (root, _) = try installThreeRevisions(t)
        let ref = try TreeRef(parsing: "app@r2")
        guard case .taken(let gc?) = try TreeLock.exclusive(ref, in: root, create: true) else {
            Issue.record("no exclusive lock")
            return
        }
        let start = monotonicNow()
        #expect { _ = try TreeLock.shared(ref, in: root, timeout: 0.2) } throws: { error in
            guard let e = error as? TreesError else { return false }
            return e.code == .temporary && e.message.contains("locked exclusively by")
        }
        #expect(monotonicNow() - start < 2)
        _ = gc
    }

    @Test func aTreeNotOnDiskCannotBeLeased() throws {
        let t = try TempDir()
        let (root, _) = try installThreeRevisions(t)
        #expect { try TreeLock.shared(TreeRef(parsing: "app@r9"), in: root) } throws: {
            ($0 as? TreesError)?.code == .notFound
        }
    }

    /// A dry run creates nothing: a missing lock file is a lock nobody holds.
    @Test func gcWithoutCreatingFindsAMissingFileFree() throws {
        let t = try TempDir()
        let (root, _) = try installThreeRevisions(t)
        let ref = try TreeRef(parsing: "app@r3")
        let file = root.path + "/.trees/leases/" + TreeLock.fileName(ref)
        try? FileManager.default.removeItem(atPath: file)
        guard case .taken(nil) = try TreeLock.exclusive(ref, in: root, create: false) else {
            Issue.record("a missing lock file was not free")
            return
        }
        #expect(!FileManager.default.fileExists(atPath: file))
    }
}
