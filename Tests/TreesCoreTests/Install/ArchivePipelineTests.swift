import Foundation
import Testing
@testable import TreesCore

/// The extractor decodes on one thread and writes on another: members must
/// still land in archive order (a later member replaces an earlier one, a
/// hard link shares its earlier target), and an error met by the writer
/// after the decoder has moved on (and met damage of its own further on)
/// must be the one reported.
@Suite struct ArchivePipelineTests {
    func tar(_ arguments: [String]) throws {
        let p = try Process.run(URL(fileURLWithPath: "/usr/bin/tar"), arguments: arguments)
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "tar \(arguments)")
    }

    func fill(_ path: String, count: Int, seed: UInt8) -> String {
        var bytes = [UInt8](repeating: 0, count: count)
        var x = UInt32(seed) &+ 1
        for i in 0..<count {
            x = x &* 1_103_515_245 &+ 12_345
            bytes[i] = UInt8(truncatingIfNeeded: x >> 16)
        }
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return SHA256.hash(bytes)
    }

    @Test(arguments: ["a.tar", "a.tar.gz"])
    func laterMembersReplaceEarlierOnesAndHardLinksShareTheirTarget(_ file: String) throws {
        let t = try TempDir()
        try FileManager.default.createDirectory(atPath: t.path + "/src/d", withIntermediateDirectories: true)
        for i in 0..<400 { _ = fill(t.path + "/src/d/f\(i)", count: 1000 + i * 37, seed: UInt8(i % 256)) }
        let bigHash = fill(t.path + "/src/big.bin", count: 3 << 20, seed: 7)
        try #require(link(t.path + "/src/big.bin", t.path + "/src/big.link") == 0)
        try tar(["-cf", t.path + "/a.tar", "-C", t.path + "/src", "."])
        // The same name again, appended: the archive's last word on it.
        try "replaced\n".write(toFile: t.path + "/src/d/f7", atomically: false, encoding: .utf8)
        try tar(["-rf", t.path + "/a.tar", "-C", t.path + "/src", "./d/f7"])
        if file.hasSuffix(".gz") {
            let p = try Process.run(URL(fileURLWithPath: "/bin/gzip"), arguments: ["-k", t.path + "/a.tar"])
            p.waitUntilExit()
        }

        try FileManager.default.createDirectory(atPath: t.path + "/out", withIntermediateDirectories: true)
        var extractor = try ArchiveExtractor(progress: nil, archivePath: t.path + "/" + file, scratch: Directory.open(t.path))
        try extractor.extract(into: try Directory.open(t.path + "/out"))

        #expect(try String(contentsOfFile: t.path + "/out/d/f7", encoding: .utf8) == "replaced\n")
        let recorded = try HashLedger.contents([extractor.ledger])
        #expect(recorded[Array("d/f7".utf8)]??.hash == SHA256.hash(Array("replaced\n".utf8)))
        #expect(recorded[Array("d/f399".utf8)]??.size == Int64(1000 + 399 * 37))
        var a = stat(), b = stat()
        #expect(stat(t.path + "/out/big.bin", &a) == 0 && stat(t.path + "/out/big.link", &b) == 0)
        #expect(a.st_ino == b.st_ino && a.st_nlink == 2)
        // Whichever name tar stored first holds the data; the other is a
        // hard link, whose hash is left to the seal, which reads the file
        // (the name may have held an earlier member, whose hash would be stale).
        let pair = [recorded[Array("big.bin".utf8)], recorded[Array("big.link".utf8)]]
        #expect(pair.filter { $0??.hash == bigHash }.count == 1)
        #expect(pair.filter { $0 != nil && $0! == nil }.count == 1)
        #expect(recorded.count == 402)
    }

    /// The writer runs out of space (a 1 MiB tmpfs) while the decoder,
    /// ahead of it, reaches the archive's truncated end: the full disk comes
    /// first in archive order, so it is the error, and extract returns.
    @Test(.enabled(if: getuid() == 0, "needs root to mount a tmpfs"))
    func aWriteErrorAfterTheDecoderMovedOnIsTheOneReported() throws {
        let t = try TempDir()
        try FileManager.default.createDirectory(atPath: t.path + "/src", withIntermediateDirectories: true)
        for i in 0..<200 { _ = fill(t.path + "/src/f\(String(format: "%03d", i))", count: 16 << 10, seed: UInt8(i % 256)) }
        try tar(["-cf", t.path + "/whole.tar", "-C", t.path + "/src", "."])
        // Cut inside the last member's data: damage only the decoder meets.
        let whole = try Data(contentsOf: URL(fileURLWithPath: t.path + "/whole.tar"))
        try #require(whole.count > 3 << 20)
        try whole.prefix(whole.count - 10_240 - 8_000).write(to: URL(fileURLWithPath: t.path + "/cut.tar"))

        let small = t.path + "/small"
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        guard mount("tmpfs", small, "tmpfs", 0, "size=1m") == 0 else {
            print("skipped: cannot mount a tmpfs (errno \(errno))")
            return
        }
        defer { umount2(small, Int32(MNT_DETACH)) }

        // The damage alone is reported as damage...
        try FileManager.default.createDirectory(atPath: t.path + "/roomy", withIntermediateDirectories: true)
        var roomy = try ArchiveExtractor(progress: nil, archivePath: t.path + "/cut.tar", scratch: Directory.open(t.path))
        #expect { try roomy.extract(into: try Directory.open(t.path + "/roomy")) } throws: {
            ($0 as? TreesError)?.code == .badInput
        }
        // ...but with the disk full long before it, the full disk is the error.
        var extractor = try ArchiveExtractor(progress: nil, archivePath: t.path + "/cut.tar", scratch: Directory.open(t.path))
        #expect { try extractor.extract(into: try Directory.open(small)) } throws: {
            let e = $0 as? TreesError
            return e?.errno == .noSpace && e?.code != .badInput
        }
        #expect(try HashLedger.contents([extractor.ledger]).count < 200)
    }
}
