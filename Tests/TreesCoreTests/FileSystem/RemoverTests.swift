import Foundation
import Testing
import TreesTestSupport
@testable import TreesCore


@Suite("remover")
struct RemoverTests {
    /// 30,000 levels: a recursive remover (one stack frame and one open
    /// descriptor per level) crashed or hit EMFILE here.
    @Test func removesATreeFarDeeperThanItHoldsOpen() throws {
        let t = try TempDir()
        mkdir(t.path + "/doomed", 0o755)
        makeDeepChain(t.path + "/doomed", depth: 30_000, leaf: "leaf.txt")
        let parent = try Directory.open(t.path)
        var remover = Remover(device: try parent.status().st_dev)
        #expect(try remover.remove(Array("doomed".utf8), in: parent))
        #expect(access(t.path + "/doomed", F_OK) != 0)
        #expect(remover.mountsSkipped.isEmpty)
    }

    /// A file bind-mounted over a file cannot be unlinked (EBUSY): it is a
    /// mount point, left in place and reported, never an error.
    @Test(.enabled(if: getuid() == 0, "needs root to bind-mount"))
    func fileBindMountIsLeftAndReported() throws {
        let t = try TempDir()
        try t.write("doomed/sub/mounted.txt", "under\n")
        try t.write("doomed/other.txt", "other\n")
        try t.write("outside.txt", "outside\n")
        let target = t.path + "/doomed/sub/mounted.txt"
        let mounted = mount(t.path + "/outside.txt", target, "", UInt(MS_BIND), nil) == 0
        try #require(mounted, "bind mount failed: \(errno)")
        defer { umount2(target, Int32(MNT_DETACH)) }
        let parent = try Directory.open(t.path)
        var remover = Remover(device: try parent.status().st_dev)
        #expect(try remover.remove(Array("doomed".utf8), in: parent) == false)
        #expect(remover.mountsSkipped == [target])
        #expect(access(t.path + "/doomed/other.txt", F_OK) != 0)
        #expect(access(t.path + "/outside.txt", F_OK) == 0)
        #expect(access(target, F_OK) == 0)
    }

    // MARK: two threads (UnlinkQueue): parallelFrom 0 hands files to the worker from the first one

    /// `count` files in `dirs` directories two levels down, plus one big one.
    private func makeTree(_ t: TempDir, _ top: String, files count: Int, dirs: Int) throws -> Int64 {
        var bytes: Int64 = 0
        for i in 0..<count {
            let text = String(repeating: "x", count: i % 97)
            try t.write("\(top)/d\(i % dirs / 10)/d\(i % dirs)/f\(i)", text)
            bytes += Int64(text.utf8.count)
        }
        return bytes
    }

    /// Both threads together remove every file and directory, and count
    /// each file and byte once, as one thread does.
    @Test func twoThreadsRemoveAllAndCountOnce() throws {
        let t = try TempDir()
        let bytes = try makeTree(t, "doomed", files: 3_000, dirs: 60)
        _ = try makeTree(t, "flat", files: 1_000, dirs: 1) // many files in one directory
        let parent = try Directory.open(t.path)
        for name in ["doomed", "flat"] {
            var remover = Remover(device: try parent.status().st_dev)
            remover.parallelFrom = 0
            #expect(try remover.remove(Array(name.utf8), in: parent))
            #expect(access(t.path + "/" + name, F_OK) != 0)
            #expect(remover.filesRemoved == (name == "doomed" ? 3_000 : 1_000))
            if name == "doomed" { #expect(remover.bytesFreed == bytes) }
            #expect(remover.mountsSkipped.isEmpty)
        }
    }

    /// Symlinks inside — to a directory and to a file outside, and to a
    /// directory inside — are removed as links; what they point at outside
    /// is untouched, however many of them the worker unlinks.
    @Test func twoThreadsNeverFollowASymlink() throws {
        let t = try TempDir()
        try t.write("outside/keep.txt", "keep\n")
        try t.write("outside/sub/keep2.txt", "keep\n")
        _ = try makeTree(t, "doomed", files: 600, dirs: 12)
        for i in 0..<200 {
            let dir = t.path + "/doomed/d\(i % 12 / 10)/d\(i % 12)"
            symlink(t.path + "/outside", dir + "/to-dir-\(i)")
            symlink(t.path + "/outside/keep.txt", dir + "/to-file-\(i)")
            symlink("../d\(i % 12)", dir + "/to-sibling-\(i)")
        }
        let parent = try Directory.open(t.path)
        var remover = Remover(device: try parent.status().st_dev)
        remover.parallelFrom = 0
        #expect(try remover.remove(Array("doomed".utf8), in: parent))
        #expect(access(t.path + "/doomed", F_OK) != 0)
        #expect(access(t.path + "/outside/keep.txt", F_OK) == 0)
        #expect(access(t.path + "/outside/sub/keep2.txt", F_OK) == 0)
        #expect(remover.filesRemoved == 600 + 3 * 200)
    }

    /// A directory bind-mounted inside is not entered, and a file
    /// bind-mounted over a file (EBUSY, on whichever thread unlinks it) is
    /// left and reported; everything else goes, and the parents of both stay.
    @Test(.enabled(if: getuid() == 0, "needs root to bind-mount"))
    func twoThreadsNeverCrossAMount() throws {
        let t = try TempDir()
        try t.write("outside/keep.txt", "keep\n")
        try t.write("outside-file.txt", "outside\n")
        _ = try makeTree(t, "doomed", files: 600, dirs: 12)
        try t.write("doomed/m/mnt/.placeholder", "")
        try t.write("doomed/f/mounted.txt", "under\n")
        let dirTarget = t.path + "/doomed/m/mnt", fileTarget = t.path + "/doomed/f/mounted.txt"
        try #require(mount(t.path + "/outside", dirTarget, "", UInt(MS_BIND), nil) == 0, "bind mount failed: \(errno)")
        defer { umount2(dirTarget, Int32(MNT_DETACH)) }
        try #require(mount(t.path + "/outside-file.txt", fileTarget, "", UInt(MS_BIND), nil) == 0, "bind mount failed: \(errno)")
        defer { umount2(fileTarget, Int32(MNT_DETACH)) }
        let parent = try Directory.open(t.path)
        var remover = Remover(device: try parent.status().st_dev)
        remover.parallelFrom = 0
        #expect(try remover.remove(Array("doomed".utf8), in: parent) == false)
        #expect(Set(remover.mountsSkipped) == [dirTarget, fileTarget])
        #expect(access(t.path + "/outside/keep.txt", F_OK) == 0)
        #expect(access(t.path + "/outside-file.txt", F_OK) == 0)
        #expect(access(t.path + "/doomed/d0", F_OK) != 0)
        #expect(access(t.path + "/doomed/d1", F_OK) != 0)
        #expect(access(dirTarget, F_OK) == 0)
        #expect(access(fileTarget, F_OK) == 0)
    }

    /// A file the worker cannot unlink (immutable: EPERM even for root)
    /// stops the removal with that errno and path: the worker's error is
    /// never dropped, whether it is the only file or one among thousands.
    @Test(.enabled(if: getuid() == 0, "needs root to make a file immutable"))
    func anErrorOnTheWorkerIsNotLost() throws {
        for others in [0, 3_000] {
            let t = try TempDir()
            try t.write("doomed/locked.txt", "locked\n")
            if others > 0 { _ = try makeTree(t, "doomed/more", files: others, dirs: 60) }
            let locked = t.path + "/doomed/locked.txt"
            let chattr = try Process.run(URL(fileURLWithPath: "/usr/bin/chattr"), arguments: ["+i", locked])
            chattr.waitUntilExit()
            try #require(chattr.terminationStatus == 0, "chattr +i failed")
            defer { _ = try? Process.run(URL(fileURLWithPath: "/usr/bin/chattr"), arguments: ["-i", locked]).waitUntilExit() }
            let parent = try Directory.open(t.path)
            var remover = Remover(device: try parent.status().st_dev)
            remover.parallelFrom = 0
            do {
                try remover.remove(Array("doomed".utf8), in: parent)
                Issue.record("removed a tree holding an immutable file (\(others) others)")
            } catch let e as TreesError {
                #expect(e.errno == Errno(rawValue: EPERM))
                #expect(e.message == "cannot remove \(locked)")
            }
            #expect(access(locked, F_OK) == 0)
        }
    }
}

