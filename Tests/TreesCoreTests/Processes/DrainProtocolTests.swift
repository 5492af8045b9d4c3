import Testing

@testable import TreesCore

@Suite struct DrainProtocolTests {
    @Test(arguments: [
        ("TERM", "TERM"), ("sigterm", "TERM"), ("TSTP,TERM@2h,KILL@+60s", "TSTP,TERM@2h,KILL@+1m"),
        ("USR1@90,TERM@+0", "USR1@90s,TERM@+0s"), ("HUP,INT@1d", "HUP,INT@1d"),
    ])
    func goodProtocolsAreKeptInOneSpelling(_ text: String, _ canonical: String) throws {
        let parsed = try DrainProtocol(parsing: text)
        #expect(parsed.description == canonical)
        #expect(try DrainProtocol(parsing: canonical) == parsed)
    }

    @Test(arguments: ["", "TERM@", "@2h", "NOSUCHSIG", "TERM,KILL@-1s", "TERM,KILL@99999999999d", "TERM,KILL@367d",
                      "TERM,KILL", "KILL,TERM@1h", "TERM@2h,KILL@1h", "0", "9", "TERM,,KILL@1h", "TERM@+", "TERM@1w",
                      "TERM@+366d,KILL@+1d", String(repeating: "TERM@+1s,", count: 17) + "KILL@+1s"])
    func badProtocolsAreRefusedWith65(_ text: String) {
        #expect(throws: TreesError.self) { try DrainProtocol(parsing: text) }
        do { _ = try DrainProtocol(parsing: text) } catch let e as TreesError { #expect(e.exitStatus == 65) } catch {}
    }

    /// Step N is due at its deadline, never before step N-1 was sent, and
    /// no sooner after it than the protocol spaced them.
    @Test func stepsFallDueOnTheDrainsClock() throws {
        let p = try DrainProtocol(parsing: "TSTP,TERM@2h,KILL@+60s")
        #expect(p.due(0, startedAt: 1000, sentAt: [:]) == Int64(1000))
        #expect(p.due(1, startedAt: 1000, sentAt: [:]) == nil)
        #expect(p.due(1, startedAt: 1000, sentAt: [0: 1000]) == Int64(8200))
        #expect(p.due(2, startedAt: 1000, sentAt: [0: 1000, 1: 9000]) == Int64(9060))
        #expect(p.due(3, startedAt: 1000, sentAt: [0: 1000, 1: 9000, 2: 9060]) == nil)
        // A drain that was down past a deadline keeps the steps apart.
        let late = try DrainProtocol(parsing: "TSTP,TERM@1h")
        #expect(late.due(1, startedAt: 1000, sentAt: [0: 5000]) == Int64(8600))
    }
}
