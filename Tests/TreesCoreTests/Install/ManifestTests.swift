import Foundation
import Testing
@testable import TreesCore

@Suite struct ManifestTests {
    @Test func digestIsStableAndSensitiveToContentModeAndLinks() throws {
        let t = try TempDir()
        try t.write("a/x.txt", "x")
        try t.write("a/sub/y.txt", "y")
        symlink("x.txt", t.path + "/a/link")
        let d1 = try Manifest.build(of: Directory.open(t.path + "/a"), seal: false).digest
        #expect(try Manifest.build(of: Directory.open(t.path + "/a"), seal: false).digest == d1)

        try t.write("a/x.txt", "X")
        let d2 = try Manifest.build(of: Directory.open(t.path + "/a"), seal: false).digest
        #expect(d2 != d1)
        try t.write("a/x.txt", "x")
        chmod(t.path + "/a/x.txt", 0o755)
        let d3 = try Manifest.build(of: Directory.open(t.path + "/a"), seal: false).digest
        #expect(d3 != d1)
        chmod(t.path + "/a/x.txt", 0o644)
        unlink(t.path + "/a/link")
        symlink("sub/y.txt", t.path + "/a/link")
        #expect(try Manifest.build(of: Directory.open(t.path + "/a"), seal: false).digest != d1)
    }

    @Test func encodingRoundTripsAndDiffers() throws {
        let t = try TempDir()
        try t.write("a/name with\nnewline", "1")
        try t.write("a/b/c", "2")
        let m = try Manifest.build(of: Directory.open(t.path + "/a"), seal: false)
        let decoded = try #require(Manifest.decode(m.encoded))
        #expect(decoded == m)
        #expect(decoded.digest == m.digest)
        #expect(m.files == 2 && m.bytes == 2)
        #expect(Manifest.decode([1, 2, 3]) == nil)
        try t.write("a/b/c", "3")
        let changed = try Manifest.build(of: Directory.open(t.path + "/a"), seal: false)
        #expect(m.differences(to: changed) == ["modified: b/c"])
    }

    @Test func sealRemovesWriteBitsAndKeepsExec() throws {
        let t = try TempDir()
        try t.write("a/run", "#!/bin/sh")
        chmod(t.path + "/a/run", 0o775)
        _ = try Manifest.build(of: Directory.open(t.path + "/a"), seal: true)
        var st = stat()
        stat(t.path + "/a/run", &st)
        #expect(st.st_mode & 0o777 == 0o555)
        stat(t.path + "/a", &st)
        #expect(st.st_mode & 0o222 == 0)
    }
}
