import Testing
@testable import TreesCore

@Suite("escaping output")
struct QuotingTests {
    @Test(arguments: [
        ([0x61, 0x0a, 0x62], "a\\x0ab"),
        ([0x1b, 0x5b, 0x32, 0x4a], "\\x1b[2J"),
        ([0x63, 0x61, 0x66, 0xe9], "caf\\xe9"),
        ([0xff, 0xfe], "\\xff\\xfe"),
        ([0x5c, 0x78, 0x66, 0x66], "\\\\xff"),            // a literal backslash cannot imitate an escape
        ([0xc3, 0xa9], "é"),                               // valid UTF-8 stays readable
        ([0xc2, 0x9b, 0x33, 0x31, 0x6d], "\\xc2\\x9b31m"), // C1 CSI
        ([0xc0, 0xaf], "\\xc0\\xaf"),                      // overlong '/'
        ([0xed, 0xa0, 0x80], "\\xed\\xa0\\x80"),           // a UTF-16 surrogate
        ([0x7f, 0x0d], "\\x7f\\x0d"),
        ([0x61, 0xe2, 0x80, 0xae, 0x62], "a\\xe2\\x80\\xaeb"),   // U+202E right-to-left override
        ([0x61, 0xe2, 0x80, 0xa8, 0x62], "a\\xe2\\x80\\xa8b"),   // U+2028 line separator
        ([0xe2, 0x81, 0xa6], "\\xe2\\x81\\xa6"),                 // U+2066 left-to-right isolate
        ([0xe2, 0x80, 0x94], "—"),                              // an em dash stays readable
    ] as [([UInt8], String)])
    func escapes(_ input: [UInt8], _ expected: String) {
        #expect(escaped(input) == expected)
    }

    /// The way out: controls escaped by `escaped`, escaped text left as it is.
    @Test(arguments: [
        ("job\napp: current r2\u{1B}[2J", "job\\x0aapp: current r2\\x1b[2J"),
        ("\r\u{07}\t\u{7F}", "\\x0d\\x07\\x09\\x7f"),
        ("\u{9B}31m", "\\xc2\\x9b31m"),                   // C1 CSI
        ("caf\\xe9 a\\\\b é", "caf\\xe9 a\\\\b é"),    // escaped already: unchanged
    ])
    func neutralizes(_ input: String, _ expected: String) {
        #expect(neutralized(input) == expected)
        #expect(neutralized(neutralized(input)) == expected)
    }

    @Test func quotedKeepsItsQuotesUnforgeable() {
        #expect(quoted("it's\n") == "'it\\'s\\x0a'")
    }
}
