import Foundation
import Testing
@testable import TreesCore

/// The pieces that keep an install's memory flat: the walk in manifest
/// order, the ledger of hashes, the body written and read in pieces.
@Suite struct ManifestStreamTests {
    /// Names whose bytes sort around '/' (0x2f): "a-b" and "a.b" come between
    /// "a" and "a/x", "!" and "-" before the tree's own ".". A plain
    /// depth-first walk gets this order wrong, and the writer refuses any
    /// entry out of order, so writing the manifest is the test.
    @Test func theWalkHandsOutPathsInManifestOrder() throws {
        let t = try TempDir()
        for rel in ["a/x", "a/y/z", "a-b", "a.b", "a0", "!", "-dash/f", "-", ".hidden", "a/-/q", "a/-q", "ab/c",
                    "a\u{e9}/f", "~", "A/a", "a/y-/w"] {
            try t.write("tree/" + rel, rel)
        }
        let dir = try Directory.open(t.path + "/tree")
        let written = try Manifest.write(of: dir, pass: .record, scratch: Directory.open(t.path), progress: nil)
        var walked: [FileName] = []
        try written.forEachEntry { walked.append($0.path) }
        let sorted = walked.sorted { $0.lexicographicallyPrecedes($1) }
        #expect(walked == sorted)
        #expect(walked.count == 16 + 9)  // the files, their 8 directories and "."
        let inMemory = try Manifest.build(of: dir, seal: false)
        #expect(try written.loaded() == inMemory)
        #expect(written.digest == inMemory.digest)
        #expect(written.files == inMemory.files && written.bytes == inMemory.bytes)
        var body: [UInt8] = []
        try written.forEachEncodedChunk { body += $0 }
        #expect(body == inMemory.encoded)
    }

    /// Records in any order, over many runs, with a path recorded twice (the
    /// later wins) and one forgotten (the seal must read that file).
    @Test func theLedgerAnswersInPathOrderAcrossRuns() throws {
        let t = try TempDir()
        let scratch = try Directory.open(t.path)
        let one = try HashLedger(in: scratch, runBytes: 1_000)
        let two = try HashLedger(in: scratch, runBytes: 700)
        func hash(_ i: Int) -> FileHash { FileHash(hash: SHA256.hash(Array("\(i)".utf8)), size: Int64(i)) }
        var expected: [FileName: FileHash?] = [:]
        for i in (0..<500).shuffled() {
            let path = Array("d\(i % 7)/f\(i)".utf8)
            try (i % 2 == 0 ? one : two).record(path, hash(i))
            expected[path] = hash(i)
        }
        // A later record of a path in the same ledger wins (an archive member replacing an earlier one).
        try two.record(Array("d3/f3".utf8), hash(9_999))
        expected[Array("d3/f3".utf8)] = hash(9_999)
        try two.forget(Array("d1/f8".utf8))
        expected[Array("d1/f8".utf8)] = .some(nil)
        #expect(one.runs.count > 5 && two.runs.count > 5)
        var lookup = try HashLedger.lookup([one, two])
        let paths = (expected.keys + [Array("d0/missing".utf8)]).sorted { $0.lexicographicallyPrecedes($1) }
        for path in paths {
            let got = try lookup.hash(for: path)
            let want = expected[path] ?? nil
            #expect(got?.hash == want?.hash && got?.size == want?.size, "\(path.display)")
        }
    }

    /// The store writes and reads a body in pieces: empty, smaller than a
    /// piece, and many pieces long, byte for byte.
    @Test(arguments: [0, 10, 200_000]) func aManifestBodyRoundTripsThroughTheStore(entries: Int) throws {
        let t = try TempDir()
        let root = try Root.create(t.path + "/root")
        let store = try root.openStore(create: true)
        let manifest = Manifest(entries: (0..<entries).map {
            Manifest.Entry(kind: UInt8(ascii: "f"), mode: 0o444, size: Int64($0), value: Array(SHA256.hash(Array("\($0)".utf8)).utf8),
                           path: Array("p/\($0)".utf8), uid: 0, gid: 0)
        })
        let ref = try TreeRef(parsing: "app@r1")
        let row = try store.write { try store.beginInstall(ref, path: "/x", manifest: manifest) }
        var pieces = 0
        var body: [UInt8] = []
        #expect(try store.readManifest(treeID: row.id) { pieces += 1; body += $0 })
        #expect(body == manifest.encoded)
        #expect(entries < 10_000 || pieces > 1)
        #expect(Manifest.decode(body) == manifest)
        #expect(try store.hasManifest(treeID: row.id))
        #expect(try !store.readManifest(treeID: row.id + 1) { _ in })
    }

    /// Fed in pieces of any size, the decoder hands out what a whole-body
    /// decode does, and refuses a body cut inside an entry.
    @Test func theDecoderReadsABodyInAnyPieces() throws {
        let t = try TempDir()
        for i in 0..<50 { try t.write("a/d\(i % 4)/f\(i)", String(repeating: "x", count: i)) }
        let m = try Manifest.build(of: Directory.open(t.path + "/a"), seal: false)
        let body = m.encoded
        for step in [1, 7, 16, 17, 1000] {
            var decoder = ManifestDecoder()
            var entries: [Manifest.Entry] = []
            var at = 0
            while at < body.count {
                let piece = Array(body[at..<min(body.count, at + step)])
                try piece.withUnsafeBytes { try decoder.feed($0) { entries.append($0) } }
                at += step
            }
            #expect(decoder.finish() == 2)
            #expect(Manifest(entries: entries) == m, "pieces of \(step)")
        }
        var cut = ManifestDecoder()
        try Array(body.dropLast(3)).withUnsafeBytes { try cut.feed($0) { _ in } }
        #expect(cut.finish() == nil)
    }
}

extension ManifestStreamTests {
    /// An archive whose later member replaces a file by a hard link to
    /// another: the name's first hash is stale, and a manifest built from
    /// it would record content the tree does not hold (verify would then
    /// call the intact tree modified, and dedup link the wrong bytes).
    @Test func aNameReplacedByAHardLinkGetsTheLinkedContentsHash() throws {
        let t = try TempDir()
        try t.write("src/a", "first content of a\n")
        try t.write("src/b", "content of b\n")
        let tar = t.path + "/x.tar"
        func run(_ args: [String]) throws {
            let p = try Process.run(URL(fileURLWithPath: "/bin/sh"), arguments: ["-c", args.joined(separator: " ")])
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "\(args)")
        }
        try run(["cd", t.path + "/src", "&&", "tar", "-cf", tar, "a", "b", "&&", "rm", "a", "&&", "ln", "b", "a",
                 "&&", "tar", "-rf", tar, "b", "a"])
        let root = try Root.create(t.path + "/root")
        let store = try root.openStore(create: true)
        let ref = try TreeRef(parsing: "app@r1")
        _ = try Installer(root: root, store: store).install(ref, from: .archive(tar))
        #expect(try String(contentsOfFile: root.path + "/app/r1/a", encoding: .utf8) == "content of b\n")
        let row = try #require(try store.tree(ref))
        let manifest = try #require(try store.manifest(treeID: row.id).flatMap(Manifest.decode))
        let a = try #require(manifest.entries.first { $0.path == Array("a".utf8) })
        #expect(a.value == Array(SHA256.hash(Array("content of b\n".utf8)).utf8))
        #expect(try Verifier(root: root, store: store).verify(ref).isEmpty)
    }
}
