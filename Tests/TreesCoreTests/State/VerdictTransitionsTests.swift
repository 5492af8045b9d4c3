import Foundation
import Testing
@testable import TreesCore

/// Walks `Verdict.transitions` through `Store.setVerdict`: every verdict to
/// every verdict, and every tree state; exactly the table's changes on an
/// installed tree succeed, and a refusal changes nothing.
@Suite struct VerdictTransitionsTests {
    /// Written out again on purpose (see TreeTransitionsTests): judged good or
    /// bad, changed with a reason, never back to unverified.
    static let allowedPairs: Set<[Verdict]> = [
        [.unverified, .good], [.unverified, .bad], [.good, .bad], [.bad, .good], [.good, .good], [.bad, .bad],
    ]

    @Test func theTableHoldsExactlyTheAllowedPairs() {
        #expect(Set(Verdict.transitions.map { [$0.from, $0.to] }) == Self.allowedPairs)
    }

    @Test(arguments: Verdict.allCases)
    func everyChangeFromThisVerdictIsAsTheTableSays(_ from: Verdict) throws {
        let t = try TempDir()
        let store = try Root.create(t.path + "/root").openStore(create: true)
        for (index, to) in Verdict.allCases.enumerated() {
            let ref = try TreeRef(parsing: "app@r\(index)")
            try TreeTransitionsTests.seed(ref, .ready, in: store)
            if from != .unverified {
                try store.write { try store.query("UPDATE trees SET verdict = ? WHERE rev = ?", [.text(from.rawValue), .text(ref.rev.value)]) }
            }
            let before = try TreeTransitionsTests.snapshot(store)
            do {
                try store.write { try store.setVerdict(ref, to, by: "tester", reason: "why", at: 42) }
                #expect(Self.allowedPairs.contains([from, to]), "\(from) → \(to) was allowed")
                let row = try #require(try store.tree(ref))
                #expect(row.verdict == VerdictRecord(verdict: to, by: "tester", at: 42, reason: "why"))
                #expect(try store.history(name: ref.name).last?.event == (to == .good ? "marked-good" : "marked-bad"))
            } catch let e as TreesError {
                #expect(!Self.allowedPairs.contains([from, to]), "\(from) → \(to) was refused: \(e)")
                #expect(try TreeTransitionsTests.snapshot(store) == before, "a refused verdict changed the database")
            }
        }
    }

    /// Only an installed tree is judged: not one being installed, nor one gone.
    @Test(arguments: TreeState.allCases)
    func onlyAnInstalledTreeIsJudged(_ state: TreeState) throws {
        let t = try TempDir()
        let store = try Root.create(t.path + "/root").openStore(create: true)
        let ref = try TreeRef(parsing: "app@r1")
        try TreeTransitionsTests.seed(ref, state, in: store)
        let judged = (try? store.write { try store.setVerdict(ref, .bad, by: "tester", reason: nil, at: 1) }) != nil
        #expect(judged == [.ready, .condemned].contains(state), "\(state)")
    }

    /// A reinstall of a deleted revision starts unverified.
    @Test func aReinstalledRevisionStartsUnverified() throws {
        let t = try TempDir()
        let store = try Root.create(t.path + "/root").openStore(create: true)
        let ref = try TreeRef(parsing: "app@r1")
        try TreeTransitionsTests.seed(ref, .ready, in: store)
        try store.write { try store.setVerdict(ref, .bad, by: "tester", reason: nil, at: 1) }
        try store.write { try store.query("UPDATE trees SET state = 'deleted' WHERE rev = 'r1'") }
        try TreeTransitionsTests.fire(.beginInstall, ref, on: store)
        #expect(try store.tree(ref)?.verdict == VerdictRecord())
    }
}
