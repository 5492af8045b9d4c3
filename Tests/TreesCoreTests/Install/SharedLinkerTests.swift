import Testing
@testable import TreesCore

@Suite struct SharedLinkerTests {
    func entry(_ kind: Character, _ path: String, _ value: String = "") -> Manifest.Entry {
        .init(kind: UInt8(ascii: kind.unicodeScalars.first!), mode: kind == "l" ? 0 : 0o555, size: Int64(value.utf8.count),
              value: Array(value.utf8), path: Array(path.utf8))
    }

    var base: [Manifest.Entry] { [entry("d", "."), entry("d", "bin"), entry("f", "bin/run", "h1")] }

    @Test func linksAndTheDirectoriesMadeForThemAreSetAside() {
        let before = Manifest(entries: base)
        let after = Manifest(entries: base + [entry("d", "var"), entry("l", "var/log", "../../shared/var/log"), entry("l", "log", "../shared/log")])
        #expect(SharedLinker.sameContent(before, after) && SharedLinker.sameContent(after, before))
    }

    @Test func contentStaysContent() {
        let link = entry("l", "log", "../shared/log")
        // Different files, the same links.
        #expect(!SharedLinker.sameContent(Manifest(entries: base + [link]),
                                          Manifest(entries: [entry("d", "."), entry("d", "bin"), entry("f", "bin/run", "h2"), link])))
        // Content where the other has trees' link (a seed since declared) cannot be compared.
        #expect(!SharedLinker.sameContent(Manifest(entries: base + [entry("d", "log"), entry("f", "log/a", "h")]),
                                          Manifest(entries: base + [link])))
        // A link that is not trees' own (another target) is content.
        #expect(!SharedLinker.sameContent(Manifest(entries: base), Manifest(entries: base + [entry("l", "log", "/var/log")])))
        // A directory of the source above a link stays when it holds something else.
        #expect(!SharedLinker.sameContent(Manifest(entries: base),
                                          Manifest(entries: base + [entry("d", "var"), entry("f", "var/x", "h"), entry("l", "var/log", "../../shared/var/log")])))
    }
}
