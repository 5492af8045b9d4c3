import Foundation
import Testing

let promtoolBinary = "/usr/bin/promtool"

@Suite("contrib/prometheus: the rules load and every alert is unit-tested")
struct PrometheusRulesTests {
    let directory = fixtures.deletingLastPathComponent().appendingPathComponent("contrib/prometheus").path

    /// The names after `key:` on the lines of `file` (`alert`, `alertname`).
    func names(_ key: String, in file: String) throws -> [String] {
        try String(contentsOfFile: "\(directory)/\(file)", encoding: .utf8).split(separator: "\n").compactMap { line in
            let trimmed = line.drop { $0 == " " || $0 == "-" }
            guard trimmed.hasPrefix("\(key): ") else { return nil }
            return String(trimmed.dropFirst(key.count + 2))
        }
    }

    @Test("the issue's four alerts are there, and each has a case in trees.rules.test.yml")
    func everyAlertHasATest() throws {
        let alerts = try names("alert", in: "trees.rules.yml")
        #expect(alerts == ["TreesRevisionsSkewed", "TreesJobStuckOnOldTree", "TreesTextfileStale", "TreesUnknownProcesses"])
        let tested = Set(try names("alertname", in: "trees.rules.test.yml"))
        #expect(Set(alerts) == tested)
    }

    @Test("promtool check rules, then promtool test rules",
          .enabled(if: Facility.has(promtoolBinary), "needs promtool (Debian package prometheus; contrib/bootstrap installs it)"))
    func promtoolChecksAndTests() throws {
        let check = try run(promtoolBinary, ["check", "rules", "trees.rules.yml"], cwd: directory)
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        let test = try run(promtoolBinary, ["test", "rules", "trees.rules.test.yml"], cwd: directory)
        #expect(test.status == 0, "\(test.stdout)\(test.stderr)")
    }
}
