import Foundation
import Testing
import TreesTestSupport

/// Issue 14: every line a person reads passes one escaping function. A job
/// whose argv is hostile runs from a tree whose file names are hostile too;
/// every command that prints text for people is run against that scene, and
/// no line of its output, on either stream, may hold a raw control byte, a
/// C1 control, invalid UTF-8, or a line that one of those strings forged.
@Suite("hostile text in human-readable output")
struct HostileOutputTests {
    /// The job's arguments: a forged status line with a screen clear, the
    /// other C0 controls a terminal acts on, CSI as one byte (not UTF-8) and
    /// as the UTF-8 C1 control, DEL and bytes that are not UTF-8.
    static let hostileArguments: [[UInt8]] = [
        Array("job\napp: current r2 (0 jobs), converged\u{1B}[2J".utf8),
        Array("\nFORGED\r\u{07}\u{08}\t\u{0B}\u{0C}\u{1B}]0;title\u{07}".utf8),
        [0x9B] + Array("31m".utf8),
        [0xC2, 0x9B] + Array("32m".utf8),
        [0x7F, 0xFF, 0xFE, 0xC0, 0xAF],
    ]

    /// File names in the tree (and in the root's own directories, for doctor).
    static let hostileNames: [[UInt8]] = [
        Array("a\nFORGED".utf8), Array("\u{1B}[2J".utf8), [0x9B, 0x41], [0xFF], [0xC2, 0x9B], Array("cr\rFORGED".utf8), [0x7F],
    ]

    /// A line that only a hostile string can have made.
    static let forgedStarts = ["FORGED", "app: current r2 (0 jobs), converged"]

    struct Case: CustomTestStringConvertible, Sendable {
        let arguments: [String]
        let status: Int32
        /// What the output must show (escaped), so the case cannot pass by printing nothing hostile.
        let shows: String?
        var testDescription: String { escapedForTest(Array(arguments.joined(separator: " ").utf8)) }
    }

    static let cases: [Case] = [
        Case(arguments: ["status"], status: 0, shows: "job\\x0aapp: current r2"),
        Case(arguments: ["status", "app"], status: 0, shows: "\\x1b[2J"),
        Case(arguments: ["ps"], status: 0, shows: "job\\x0aapp: current r2"),
        Case(arguments: ["list"], status: 0, shows: nil),
        Case(arguments: ["list", "--jobs", "--usage"], status: 0, shows: nil),
        Case(arguments: ["log"], status: 0, shows: "\\x0aFORGED"),
        Case(arguments: ["lease", "list"], status: 0, shows: "job\\x0aapp: current r2"),
        Case(arguments: ["verify", "app@r1"], status: 65, shows: "a\\x0aFORGED"),
        Case(arguments: ["gc", "--dry-run", "--min-age", "0", "--keep", "0"], status: 0, shows: nil),
        Case(arguments: ["wait", "app@r1", "--timeout", "1"], status: 75, shows: "job\\x0aapp: current r2"),
        Case(arguments: ["doctor"], status: 65, shows: "\\x1b[2J"),
        // Error messages that quote a file name or the command line back.
        Case(arguments: ["install", "app@r3", "SRC-BAD"], status: 65, shows: "a\\x0aFORGED"),
        Case(arguments: ["status", "--\u{1B}[2J\nFORGED"], status: 64, shows: "\\x1b[2J"),
        Case(arguments: ["verify", "app@r1\nFORGED\u{1B}[2J"], status: 65, shows: "\\x0aFORGED"),
    ]

    /// Creates `name` (raw bytes) in `dir`: a file, or a FIFO with `fifo`.
    func make(_ name: [UInt8], in dir: String, content: String = "x\n", fifo: Bool = false) throws {
        let path = cString(Array(dir.utf8) + [0x2F] + name)
        defer { path.deallocate() }
        var rc: Int32 = 0
        if fifo { rc = mkfifo(path, 0o644) } else {
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            rc = fd >= 0 && content.withCString({ write(fd, $0, strlen($0)) }) >= 0 ? 0 : -1
            if fd >= 0 { close(fd) }
        }
        guard rc == 0 else { throw TestFailure("cannot create \(escapedForTest(name)) in \(dir): errno \(errno)") }
    }

    @Test(.enabled(if: Facility.isRoot && Facility.hasPython3 && Facility.has("/usr/bin/sqlite3"),
                   "needs root (to change an installed tree), python3 and sqlite3"))
    func noCommandPrintsARawControlByteOrAForgedLine() throws {
        let s = try Scratch()
        let src1 = s.path + "/src-r1", src2 = s.path + "/src-r2", bad = s.path + "/src-bad"
        for dir in [src1, src2, bad] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        for (i, name) in Self.hostileNames.enumerated() { try make(name, in: src1, content: "file \(i)\n") }
        try s.write("src-r2/job.txt", "r2\n")
        try s.write("src-bad/ok.txt", "ok\n")
        try make(Self.hostileNames[0], in: bad, fifo: true)
        #expect(try s.trees(["install", "app@r1", src1]).status == 0)
        #expect(try s.trees(["install", "app@r2", src2, "--activate"]).status == 0)

        // The job: trees exec from r1 (a lease, its cwd) with the hostile argv.
        let argv = [Array(treesBinary.utf8)] + ["exec", "--root", s.root, "app@r1", "--", "/usr/bin/python3", "-c",
                                               "import time; time.sleep(60)"].map { Array($0.utf8) } + Self.hostileArguments
        let job = try #require(spawnBytes(argv))
        defer { reap(job) }
        #expect(eventually { (try? psEvidence(s))?["\(job) app@r1"]?.contains("lease") == true })

        // verify: r1 changed by root, through names as hostile as its own.
        let r1 = s.root + "/app/r1"
        #expect(chmod(r1, 0o755) == 0)
        try make(Self.hostileNames[0] + Array("-added".utf8), in: r1)
        try make(Self.hostileNames[1], in: r1, content: "changed\n")
        #expect(chmod(r1, 0o555) == 0)
        // doctor: leftovers in staging and trash with hostile names.
        try make(Self.hostileNames[1], in: s.root + "/.trees/staging")
        try make(Self.hostileNames[5], in: s.root + "/.trees/trash")
        // log: a history row as a damaged or tampered database may hold it.
        let detail = Self.hostileArguments[1] + Self.hostileArguments[2]
        let hex = detail.map { String(format: "%02x", $0) }.joined()
        #expect(try run("/usr/bin/sqlite3", [s.root + "/.trees/state.db",
            "UPDATE history SET detail = CAST(X'\(hex)' AS TEXT) WHERE event = 'installed' AND rev = 'r2'"]).status == 0)

        for c in Self.cases {
            let arguments = c.arguments.map { $0 == "SRC-BAD" ? bad : $0 }
            let path = arguments.first == "lease" ? 2 : 1
            let r = try runCapturingBytes(treesBinary, Array(arguments.prefix(path)) + ["--root", s.root] + arguments.dropFirst(path))
            #expect(r.status == c.status, "\(c.testDescription): status \(r.status)\n\(String(decoding: r.stderr, as: UTF8.self))")
            for (stream, bytes) in [("stdout", r.stdout), ("stderr", r.stderr)] {
                for problem in Self.problems(in: bytes) {
                    Issue.record("\(c.testDescription), \(stream): \(problem)")
                }
            }
            if let shows = c.shows {
                let text = String(decoding: r.stdout + r.stderr, as: UTF8.self)
                #expect(text.contains(shows), "\(c.testDescription) does not show \(shows):\n\(text)")
            }
        }
    }

    /// What makes `bytes` unsafe for a person to read, line by line.
    static func problems(in bytes: [UInt8]) -> [String] {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return ["not UTF-8: \(escapedForTest(bytes))"]
        }
        var found: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if let u = line.unicodeScalars.first(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) {
                found.append("raw U+\(String(u.value, radix: 16)) in line \(escapedForTest(Array(line.utf8)))")
            }
            let start = line.drop(while: { $0 == " " })
            if let forged = forgedStarts.first(where: { start.hasPrefix($0) }) {
                found.append("a forged line starting \(forged): \(escapedForTest(Array(line.utf8)))")
            }
        }
        return found
    }
}

/// Bytes shown in a test's failure message without driving the terminal.
func escapedForTest(_ bytes: [UInt8]) -> String {
    bytes.map { $0 >= 0x20 && $0 < 0x7F ? String(UnicodeScalar($0)) : String(format: "\\x%02x", $0) }.joined()
}

/// `posix_spawn`s `argv` (raw bytes: a String cannot hold invalid UTF-8)
/// with a minimal environment; end it with `reap`.
func spawnBytes(_ argv: [[UInt8]]) -> pid_t? {
    let args: [UnsafeMutablePointer<CChar>?] = argv.map(cString) + [nil]
    let env: [UnsafeMutablePointer<CChar>?] = [cString(Array("PATH=/usr/bin:/bin".utf8)), nil]
    defer { (args + env).forEach { $0?.deallocate() } }
    var pid: pid_t = 0
    guard let program = args[0] else { return nil }
    return posix_spawn(&pid, program, nil, nil, args, env) == 0 ? pid : nil
}

/// A NUL-terminated copy of `bytes`; the caller deallocates it.
func cString(_ bytes: [UInt8]) -> UnsafeMutablePointer<CChar> {
    let p = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
    for (i, b) in bytes.enumerated() { p[i] = CChar(bitPattern: b) }
    p[bytes.count] = 0
    return p
}
