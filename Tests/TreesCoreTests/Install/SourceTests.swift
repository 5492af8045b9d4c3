import Foundation
import Testing
@testable import TreesCore

/// `Source.classify`: what SOURCE is, and the exit status of what it is not.
@Suite struct SourceTests {
    @Test func aDirectoryAndEachArchiveSuffixAreClassifiedByWhatTheyAre() throws {
        let t = try TempDir()
        try t.write("dir/f", "x")
        #expect(try Source.classify(t.path + "/dir", gitRef: nil) == .directory(t.path + "/dir"))
        for suffix in Source.archiveSuffixes {
            try t.write("a" + suffix, "")
            #expect(try Source.classify(t.path + "/a" + suffix, gitRef: nil) == .archive(t.path + "/a" + suffix))
        }
        // A symlinked source is recorded by its real path.
        try FileManager.default.createSymbolicLink(atPath: t.path + "/link", withDestinationPath: t.path + "/dir")
        #expect(try Source.classify(t.path + "/link", gitRef: nil) == .directory(t.path + "/dir"))
    }

    @Test(arguments: [
        ("missing", TreesError.Code.notFound),
        ("plain.txt", .badInput),        // a regular file of no archive kind
        ("", .badInput),
        ("fifo", .badInput),             // neither a directory nor a regular file
    ] as [(String, TreesError.Code)])
    func whatIsNotASourceIsRefusedWithItsStatus(_ name: String, _ code: TreesError.Code) throws {
        let t = try TempDir()
        try t.write("plain.txt", "x")
        mkfifo(t.path + "/fifo", 0o600)
        let path = name.isEmpty ? "" : t.path + "/" + name
        #expect { try Source.classify(path, gitRef: nil) } throws: { ($0 as? TreesError)?.code == code }
    }

    @Test(arguments: ["https://git.example/app.git", "git@host:app.git", "ssh://h/x"])
    func aURLWithARefIsAGitSource(_ url: String) throws {
        #expect(try Source.classify(url, gitRef: "v1.2") == .git(url, ref: "v1.2"))
    }

    /// A ref reaches git as an argument: nothing that looks like an option,
    /// holds a space or control character, or is longer than 256 bytes.
    @Test(arguments: ["", "-c", "--upload-pack=x", "a b", "a\nb", "a\u{7f}", String(repeating: "r", count: 257)])
    func aHostileGitRefIsRefused(_ ref: String) {
        #expect { try Source.classify("https://git.example/app.git", gitRef: ref) } throws: {
            ($0 as? TreesError)?.code == .badInput
        }
    }

    @Test(arguments: [("/srv/app", false), ("./app", false), ("app", false), ("a/b:c", false),
                      ("host:repo", true), ("user@host:repo.git", true), ("file:///x", true)])
    func whatLooksLikeAURL(_ text: String, _ isURL: Bool) {
        #expect(Source.isURL(text) == isURL)
    }
}
