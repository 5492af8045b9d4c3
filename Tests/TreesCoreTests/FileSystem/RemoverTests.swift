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
}
