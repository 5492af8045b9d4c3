import Foundation
import Testing
@testable import TreesCore

@Suite struct NameTests {
    @Test(arguments: ["a", "importd", "a.b_c-d", "0", String(repeating: "z", count: 64)])
    func validNames(_ text: String) throws { #expect(try TreeName(text).value == text) }

    @Test(arguments: ["", "A", "-a", ".a", "_a", "a/b", "a b", "a@b", "é", String(repeating: "z", count: 65), "a\u{0}"])
    func invalidNames(_ text: String) {
        #expect(throws: TreesError.self) { try TreeName(text) }
        #expect((try? TreeName(text)) == nil)
    }

    @Test(arguments: ["r1", "R9921", "3f2a9c1", "1.2.3+build-4", "a_b", String(repeating: "r", count: 128), "currentx"])
    func validRevs(_ text: String) throws { #expect(try Rev(text).value == text) }

    @Test(arguments: ["", "current", "shared", ".r", "-r", "+r", "r/1", "..", "r 1", "r\n", String(repeating: "r", count: 129)])
    func invalidRevs(_ text: String) {
        #expect((try? Rev(text)) == nil)
    }

    @Test func treeRefParsesAndRefusesWithExit65() throws {
        let ref = try TreeRef(parsing: "app@r1")
        #expect(ref.name.value == "app" && ref.rev.value == "r1")
        for bad in ["app", "@r1", "app@", "app@r1@r2", "../app@r1"] {
            do { _ = try TreeRef(parsing: bad); Issue.record("accepted \(bad)") } catch let e as TreesError {
                #expect(e.exitStatus == 65)
            }
        }
    }

    @Test(arguments: [("90", 90), ("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86400), ("0", 0)] as [(String, Int64)])
    func durations(_ text: String, _ seconds: Int64) { #expect(parseDuration(text) == seconds) }

    @Test(arguments: ["", "s", "5x", "-5", "1.5m", "5 m", "m5", "99999999999999"])
    func badDurations(_ text: String) { #expect(parseDuration(text) == nil) }

    @Test func rfc3339Formatting() {
        #expect(rfc3339(0) == "1970-01-01T00:00:00Z")
        #expect(rfc3339(1_700_000_000) == "2023-11-14T22:13:20Z")
    }
}
