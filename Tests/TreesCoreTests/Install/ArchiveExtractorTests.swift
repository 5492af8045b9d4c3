import Foundation
import Testing
@testable import TreesCore

/// The archive corpus (`fixtures/archives/CASES.tsv`) at the core: each
/// member policy is `ArchiveExtractor`'s own, without the CLI around it.
/// Every hostile archive is refused as bad input, every good one extracts,
/// and nothing is ever written outside the directory given.
@Suite struct ArchiveExtractorTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var file: String
        var refused: Bool
        var testDescription: String { file }
    }

    static let cases: [Case] = {
        let table = (try? String(contentsOfFile: packageDirectory + "/fixtures/archives/CASES.tsv", encoding: .utf8)) ?? ""
        return table.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count >= 2 else { return nil }
            return Case(file: String(fields[0]), refused: fields[1] == "65")
        }
    }()

    /// The table must be there: an empty one would make every case pass.
    @Test func theCorpusIsPresent() {
        #expect(Self.cases.count >= 50)
        #expect(Self.cases.contains { $0.refused } && Self.cases.contains { !$0.refused })
    }

    @Test(arguments: cases)
    func eachArchiveIsExtractedOrRefusedAsItsCaseSays(_ archive: Case) throws {
        let t = try TempDir()
        try FileManager.default.createDirectory(atPath: t.path + "/out", withIntermediateDirectories: true)
        let out = try Directory.open(t.path + "/out")
        var extractor = try ArchiveExtractor(progress: nil, archivePath: packageDirectory + "/fixtures/archives/" + archive.file,
                                            scratch: Directory.open(t.path))
        if archive.refused {
            #expect { try extractor.extract(into: out) } throws: { ($0 as? TreesError)?.code == .badInput }
        } else {
            try extractor.extract(into: out)
            #expect(try !HashLedger.contents([extractor.ledger]).isEmpty)
        }
        // Whatever happened, nothing left the directory it was given.
        let outside = try FileManager.default.contentsOfDirectory(atPath: t.path)
        #expect(outside == ["out"], "\(outside)")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/trees-fixture-escape/TREES_ESCAPE_MARKER"))
    }
}
