import Foundation
import Testing

/// The `trees` binary built beside this test bundle.
let treesBinary: String = {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
    // The bundle may be a directory (…/treesPackageTests.xctest/…) on some layouts.
    while !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("trees").path), dir.path != "/" {
        dir = dir.deletingLastPathComponent()
    }
    return dir.appendingPathComponent("trees").path
}()

/// The repository's fixtures directory.
let fixtures: URL = {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures")
}()

struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// A temporary directory removed (after restoring write bits) when the test ends.
final class Scratch {
    let url: URL
    var path: String { url.path }
    var root: String { url.appendingPathComponent("root").path }

    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("trees-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        url = URL(fileURLWithPath: base.resolvingSymlinksInPath().path)
    }

    deinit {
        _ = try? Process.run(URL(fileURLWithPath: "/bin/chmod"), arguments: ["-R", "u+w", url.path]).waitUntilExit()
        try? FileManager.default.removeItem(at: url)
    }

    /// Writes a file (creating parent directories).
    @discardableResult
    func write(_ relative: String, _ content: String, executable: Bool = false) throws -> String {
        let file = url.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try content.write(to: file, atomically: false, encoding: .utf8)
        if executable {
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file.path)
        }
        return file.path
    }

    func exists(_ relative: String) -> Bool {
        var st = stat()
        return lstat(url.appendingPathComponent(relative).path, &st) == 0
    }

    /// Runs `trees` with `--root` set to this scratch root.
    @discardableResult
    func trees(_ arguments: [String], environment: [String: String] = [:]) throws -> RunResult {
        try run(treesBinary, [arguments.first ?? ""] + ["--root", root] + arguments.dropFirst(), environment: environment)
    }
}

/// Runs a program to completion, capturing its output.
func run(_ program: String, _ arguments: [String], environment: [String: String] = [:], cwd: String? = nil) throws -> RunResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env.removeValue(forKey: "TREES_ROOT")
    for (k, v) in environment { env[k] = v }
    process.environment = env
    if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Read both pipes concurrently so a chatty child cannot block on a full pipe.
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return RunResult(status: process.terminationStatus,
                     stdout: String(decoding: outData, as: UTF8.self),
                     stderr: String(decoding: errData, as: UTF8.self))
}

/// Parses the JSON output of a `--json` command.
func json(_ text: String) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(text.utf8))
}

/// Lists every path below `dir` (relative), for "nothing else changed" checks.
func listing(_ dir: String) -> [String] {
    guard let e = FileManager.default.enumerator(atPath: dir) else { return [] }
    return (e.allObjects as? [String] ?? []).sorted()
}
