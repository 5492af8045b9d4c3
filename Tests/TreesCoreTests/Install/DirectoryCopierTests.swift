import Foundation
import Testing
@testable import TreesCore

@Suite struct DirectoryCopierTests {
    /// 40 directories of 30 files: enough that the walk both queues files
    /// for the second thread and copies some itself when the queue is full.
    func makeSource(_ t: TempDir) throws -> String {
        let src = t.path + "/src"
        for d in 0..<40 {
            try FileManager.default.createDirectory(atPath: "\(src)/d\(d)", withIntermediateDirectories: true)
            for f in 0..<30 {
                FileManager.default.createFile(atPath: "\(src)/d\(d)/f\(f)", contents: Data("\(d).\(f)\n".utf8))
            }
        }
        return src
    }

    func copy(_ src: String, to dst: String, parallel: Bool) throws -> DirectoryCopier {
        try FileManager.default.createDirectory(atPath: dst, withIntermediateDirectories: true)
        var copier = try DirectoryCopier(progress: nil, scratch: Directory.open(NSTemporaryDirectory()))
        copier.parallel = parallel
        try copier.copy(from: Directory.open(src), to: Directory.open(dst))
        return copier
    }

    /// Two threads copy what one does: every file, its bytes and its hash.
    @Test func twoThreadsCopyWhatOneDoes() throws {
        let t = try TempDir()
        let src = try makeSource(t)
        let one = try copy(src, to: t.path + "/one", parallel: false)
        let two = try copy(src, to: t.path + "/two", parallel: true)
        let hashesOne = try HashLedger.contents(one.ledgers).mapValues { $0?.hash }
        let hashesTwo = try HashLedger.contents(two.ledgers).mapValues { $0?.hash }
        #expect(hashesOne.count == 1200 && hashesTwo.count == 1200)
        #expect(hashesOne == hashesTwo)
        #expect(!hashesOne.values.contains(nil))
        #expect(two.tally.files == 1200 && two.tally.bytes == one.tally.bytes)
        for d in [0, 39] {
            for f in [0, 29] {
                #expect(FileManager.default.contents(atPath: "\(t.path)/two/d\(d)/f\(f)") == Data("\(d).\(f)\n".utf8))
            }
        }
    }

    /// A file that cannot be created fails the copy with its errno on
    /// either thread. In the parallel copy the first file offered always
    /// goes to the (empty) queue, so the second thread meets a clash.
    @Test(arguments: [false, true]) func anErrorOnEitherThreadFailsTheCopy(parallel: Bool) throws {
        let t = try TempDir()
        let src = t.path + "/src", dst = t.path + "/dst"
        for dir in [src, dst] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        for f in 0..<40 {
            FileManager.default.createFile(atPath: "\(src)/f\(f)", contents: Data("\(f)".utf8))
            FileManager.default.createFile(atPath: "\(dst)/f\(f)", contents: Data("clash".utf8))
        }
        var copier = try DirectoryCopier(progress: nil, scratch: Directory.open(NSTemporaryDirectory()))
        copier.parallel = parallel
        do {
            try copier.copy(from: Directory.open(src), to: Directory.open(dst))
            Issue.record("the copy succeeded over existing files")
        } catch let e as TreesError {
            #expect(e.errno == .fileExists, "\(e)")
        }
        #expect(FileManager.default.contents(atPath: "\(dst)/f0") == Data("clash".utf8))
    }
}
