import Foundation
import Testing

/// The raw names in a directory (bytes, as the kernel holds them).
func rawNames(_ path: String) -> Set<[UInt8]> {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var out = Set<[UInt8]>()
    while let ent = readdir(dir) {
        let name: [UInt8] = withUnsafeBytes(of: ent.pointee.d_name) { Array($0.prefix(while: { $0 != 0 })) }
        if name != [0x2e] && name != [0x2e, 0x2e] { out.insert(name) }
    }
    return out
}

/// Creates a file whose name is raw bytes inside `dir`.
func writeRaw(_ dir: String, _ name: [UInt8], _ content: String, mode: mode_t = 0o644) {
    let path = Array(dir.utf8) + [0x2f] + name + [0]
    let fd = path.withUnsafeBufferPointer { buf in
        buf.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buf.count) { open($0, O_WRONLY | O_CREAT | O_TRUNC, mode) }
    }
    precondition(fd >= 0, "cannot create test file")
    _ = content.withCString { write(fd, $0, strlen($0)) }
    close(fd)
}

func readRaw(_ dir: String, _ name: [UInt8]) -> String? {
    let path = Array(dir.utf8) + [0x2f] + name + [0]
    let fd = path.withUnsafeBufferPointer { buf in
        buf.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buf.count) { open($0, O_RDONLY) }
    }
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    let n = read(fd, &buffer, buffer.count)
    return n < 0 ? nil : String(decoding: buffer[0..<n], as: UTF8.self)
}

@Suite("bad input")
struct BadInputTests {
    /// Two members whose names differ only in invalid UTF-8 bytes were both
    /// rewritten to U+FFFD and merged, losing one with exit 0.
    @Test func archiveNamesThatAreNotUTF8StayDistinct() throws {
        let s = try Scratch()
        let archive = fixtures.appendingPathComponent("archives/ok-non-utf8-names.tar").path
        let r = try s.trees(["install", "app@r1", archive])
        #expect(r.status == 0, "\(r.stderr)")
        let tree = s.root + "/app/r1"
        let e9 = Array("caf".utf8) + [0xe9] + Array(".txt".utf8)
        let e8 = Array("caf".utf8) + [0xe8] + Array(".txt".utf8)
        #expect(rawNames(tree) == [e9, e8, [0xff]])
        #expect(readRaw(tree, e9) == "e-acute\n")
        #expect(readRaw(tree, e8) == "e-grave\n")
        #expect(readRaw(tree, [0xff, 0x2f, 0x78]) == "x\n")
        #expect(try s.trees(["verify", "app@r1"]).status == 0)
    }

    @Test func directorySourceNamesAreCopiedByteExact() throws {
        let s = try Scratch()
        try s.write("src/plain.txt", "plain\n")
        let names: [[UInt8]] = [[0x61, 0xe9], [0x61, 0xe8], [0x61, 0xef, 0xbf, 0xbd], [0x1b, 0x5b, 0x32, 0x4a, 0x0a]]
        for (i, n) in names.enumerated() { writeRaw(s.path + "/src", n, "file \(i)\n") }
        let r = try s.trees(["install", "app@r1", s.path + "/src"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(rawNames(s.root + "/app/r1") == Set(names + [Array("plain.txt".utf8)]))
        for (i, n) in names.enumerated() { #expect(readRaw(s.root + "/app/r1", n) == "file \(i)\n") }
        #expect(try s.trees(["verify", "app@r1"]).status == 0)
    }
}
