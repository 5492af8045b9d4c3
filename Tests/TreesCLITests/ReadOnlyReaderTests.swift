import Foundation
import Testing

private let strace = "/usr/bin/strace"
private let hasStrace = FileManager.default.isExecutableFile(atPath: strace)

/// `ps`, `list` and `wait` only read: they must not write to the state
/// database (no checkpoint of the write-ahead log, no -shm reset), so many
/// of them at once cost no disk writes and never contend with writers.
@Suite("readers write nothing under .trees")
struct ReadOnlyReaderTests {
    @Test(.enabled(if: hasStrace, "needs strace"), arguments: [["ps", "--json"], ["list", "--json"], ["wait", "app@r1", "--timeout", "0"]])
    func readerMakesNoWriteSyscallsToTheDatabase(command: [String]) throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        let log = s.path + "/strace.txt"
        let r = try run(strace, ["-f", "-y", "-o", log, "-e", "trace=fdatasync,fsync,pwrite64,write,ftruncate",
                                 treesBinary, command[0], "--root", s.root] + command.dropFirst())
        #expect(r.status == 0, "\(r.stderr)")
        let writes = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").filter { $0.contains("/.trees/") }
        #expect(writes.isEmpty, "\(writes.count) writes, first: \(writes.first.map { String($0.prefix(160)) } ?? "")")
    }
}
