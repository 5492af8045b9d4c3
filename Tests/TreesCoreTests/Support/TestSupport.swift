import Foundation
import Testing

@testable import TreesCore

/// A temporary directory for core tests, removed afterwards.
final class TempDir {
    let path: String
    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("trees-core-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.resolvingSymlinksInPath().path
    }
    deinit {
        _ = try? Process.run(URL(fileURLWithPath: "/bin/chmod"), arguments: ["-R", "u+w", path]).waitUntilExit()
        try? FileManager.default.removeItem(atPath: path)
    }
    func write(_ rel: String, _ text: String) throws {
        let url = URL(fileURLWithPath: path + "/" + rel)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: false, encoding: .utf8)
    }
}

/// A tiny shared flag for the reader thread (test-only).
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var _set = false
    private var _missing = false
    var isSet: Bool {
        get { lock.withLock { _set } }
        set { lock.withLock { _set = newValue } }
    }
    var missing: Bool {
        get { lock.withLock { _missing } }
        set { lock.withLock { _missing = newValue } }
    }
}

/// The package's top directory: the nearest parent of this file that holds
/// Package.swift, so fixtures are found however deep a test file sits.
let packageDirectory: String = {
    var parts = "\(#filePath)".split(separator: "/").map(String.init)
    while !parts.isEmpty {
        parts.removeLast()
        let dir = "/" + parts.joined(separator: "/")
        if access(dir + "/Package.swift", F_OK) == 0 { return dir }
    }
    return "."
}()

/// A root with three trees of `app`, r1 to r3, r3 current.
func installThreeRevisions(_ t: TempDir) throws -> (Root, Store) {
    let root = try Root.create(t.path + "/root")
    let store = try root.openStore(create: true)
    let installer = Installer(root: root, store: store)
    for rev in ["r1", "r2", "r3"] {
        try t.write("src-\(rev)/f", rev)
        _ = try installer.install(TreeRef(parsing: "app@\(rev)"), from: .directory(t.path + "/src-\(rev)"))
    }
    try Activation(root: root, store: store).activate(TreeRef(parsing: "app@r3"))
    return (root, store)
}
