import Testing
@testable import TreesCore

@Suite struct SharedPathTests {
    @Test(arguments: [("log", "../shared/log"), ("lib/x/log", "../../../shared/lib/x/log"),
                      ("var/run/app.pid", "../../../shared/var/run/app.pid"), ("currently", "../shared/currently"),
                      (".env", "../shared/.env"), ("a..b", "../shared/a..b")])
    func validPathsAndTheirLinks(_ text: String, _ target: String) throws {
        let path = try SharedPath(text)
        #expect(path.value == text && path.linkTarget == target)
        #expect(path.components.joined(separator: "/") == text)
    }

    @Test(arguments: ["", "/", "/abs", "../x", "x/..", "a/../b", ".", "./a", "a/.", "a//b", "log/", "current",
                      "current/x", "shared", "shared/x", ".trees", ".trees/x", "x\ny", "x\u{1b}", "x\u{7f}",
                      String(repeating: "a/", count: 33) + "a", String(repeating: "a", count: 256)])
    func invalidPathsAreBadInput(_ text: String) {
        do { _ = try SharedPath(text); Issue.record("accepted \(text.debugDescription)") } catch let e as TreesError {
            #expect(e.exitStatus == 65)
        } catch { Issue.record("\(error)") }
    }

    @Test func nesting() throws {
        let logs = try SharedPath("logs"), app = try SharedPath("logs/app"), other = try SharedPath("logsx")
        #expect(app.isWithin(logs) && logs.isWithin(logs))
        #expect(!logs.isWithin(app) && !other.isWithin(logs))
    }
}
