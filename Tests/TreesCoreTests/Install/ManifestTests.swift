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

    /// Trees installed before format 2 keep their digest and still verify:
    /// the format-1 record (r/x bits only, no owners) is read, and only what
    /// install could never leave (write, setuid, setgid bits) counts as a change.
    @Test func formatOneManifestsStillVerify() throws {
        let t = try TempDir()
        try t.write("a/run", "#!/bin/sh")
        try t.write("a/sub/x", "x")
        chmod(t.path + "/a/run", 0o755)
        let sealed = try Manifest.build(of: Directory.open(t.path + "/a"), seal: true)
        var old: [UInt8] = []
        for e in sealed.entries where e.path != [0x2e] {
            for f in [[e.kind], Array(String(e.mode & 0o555, radix: 8).utf8), Array(String(e.size).utf8), e.value, e.path] {
                old += f; old.append(0)
            }
        }
        let v1 = try #require(Manifest.decode(old))
        #expect(v1.format == 1)
        #expect(v1.digest == sealed.digest)
        let now = try Manifest.build(of: Directory.open(t.path + "/a"), seal: false)
        #expect(now.digest == sealed.digest)
        #expect(v1.differences(to: now).isEmpty)
        #expect(sealed.differences(to: now).isEmpty)
        chmod(t.path + "/a/run", 0o2555)
        let changed = try Manifest.build(of: Directory.open(t.path + "/a"), seal: false)
        #expect(v1.differences(to: changed) == ["mode changed: run 0555 -> 2555"])
        #expect(sealed.differences(to: changed) == ["mode changed: run 0555 -> 2555"])
        #expect(changed.digest == sealed.digest)  // the digest names content, not setgid
    }
}
