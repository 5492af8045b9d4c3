import Foundation
import Testing
import TreesTestSupport

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

    // MARK: depth, descriptors and leftovers

    /// A 2,000-deep directory source is refused by the documented depth
    /// limit (256), at `ulimit -n 1024`, with nothing left behind.
    @Test(.uninspectableProcesses) func deepDirectorySourceIsRefusedAtLowDescriptorLimit() throws {
        let s = try Scratch()
        try s.write("src/top.txt", "top\n")
        makeDeepChain(s.path + "/src", depth: 2_000, leaf: "leaf.txt")
        defer { removeDeepChain(s.path + "/src") }
        let r = try treesLimited(s, ["install", "app@r1", s.path + "/src"])
        #expect(r.status == 65, "\(r.stderr)")
        #expect(r.stderr.contains("at most 256"), "\(r.stderr)")
        #expect(!s.exists("root/app/r1"))
        #expect(listing(s.root + "/.trees/staging").isEmpty)
    }

    /// A crashed install can leave any shape in staging (older versions
    /// extracted 30,000-deep archives); every later install cleans it up.
    @Test(.uninspectableProcesses) func deepLeftoverStagingNeverBreaksLaterInstalls() throws {
        let s = try Scratch()
        try s.write("src/a.txt", "a\n")
        #expect(try s.trees(["install", "app@r1", s.path + "/src"]).status == 0)
        let leftover = s.root + "/.trees/staging/app@r0.99999.dead"
        mkdir(leftover, 0o700)
        makeDeepChain(leftover, depth: 30_000, leaf: "leaf.txt")
        let r = try treesLimited(s, ["install", "app@r2", s.path + "/src"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(rawNames(s.root + "/.trees/staging").isEmpty)
        if access(leftover, F_OK) == 0 { removeDeepChain(leftover) }
    }

    /// A tree made 2,000 deep after install: verify reports it (65, no
    /// crash), and remove deletes it at `ulimit -n 1024`.
    @Test(.uninspectableProcesses) func deepenedTreeIsVerifiedAndRemovedAtLowDescriptorLimit() throws {
        let s = try Scratch()
        try s.write("src/a.txt", "a\n")
        #expect(try s.trees(["install", "app@r1", s.path + "/src"]).status == 0)
        #expect(try s.trees(["install", "app@r2", s.path + "/src", "--activate"]).status == 0)
        let tree = s.root + "/app/r1"
        makeDeepChain(tree, depth: 2_000, leaf: "leaf.txt")
        let v = try treesLimited(s, ["verify", "app@r1"])
        #expect(v.status == 65, "\(v.stderr)")
        #expect(v.stdout.contains("added: d\n"), "\(v.stdout)")
        let r = try treesLimited(s, ["remove", "app@r1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!s.exists("root/app/r1"))
        #expect(rawNames(s.root + "/.trees/trash").isEmpty)
    }

    /// A file bind-mounted inside a tree in the trash made every gc exit 1
    /// from recovery; it is a mount point like a directory mount.
    @Test(.enabled(if: getuid() == 0, "needs root to bind-mount"))
    func fileBindMountInTrashDoesNotFailGC() throws {
        let s = try Scratch()
        try s.write("src/a.txt", "a\n")
        #expect(try s.trees(["install", "app@r1", s.path + "/src"]).status == 0)
        try s.write("outside.txt", "outside\n")
        try s.write("root/.trees/trash/leftover.7/sub/file.txt", "under\n")
        let target = s.root + "/.trees/trash/leftover.7/sub/file.txt"
        try #require(mount(s.path + "/outside.txt", target, "", UInt(MS_BIND), nil) == 0, "bind mount failed")
        defer { unmountAll(under: s.path) }
        let r = try s.trees(["gc"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try String(contentsOfFile: s.path + "/outside.txt", encoding: .utf8) == "outside\n")
        #expect(s.exists("root/.trees/trash/leftover.7/sub/file.txt"))
    }

    // MARK: sources inside the root, full disks

    /// Installing from `ROOT/.trees` recursed into staging; the root, its
    /// parts and trees are refused however they are spelled.
    @Test func sourcesInsideTheRootAreRefusedByIdentity() throws {
        let s = try Scratch()
        try s.write("src/a.txt", "a\n")
        #expect(try s.trees(["install", "app@r1", s.path + "/src"]).status == 0)
        symlink(s.root + "/.trees", s.path + "/link-to-meta")
        var sources = [s.root, s.root + "/.trees", s.root + "/.trees/staging", s.root + "/app", s.root + "/app/r1",
                       s.path + "/link-to-meta", s.root + "/app/r1/../../.trees", s.path]
        var bound = false
        if getuid() == 0 {
            mkdir(s.path + "/bind", 0o755)
            bound = mount(s.root, s.path + "/bind", "", UInt(MS_BIND), nil) == 0
            if bound { sources.append(s.path + "/bind/.trees") }
        }
        defer { if bound { umount2(s.path + "/bind", Int32(MNT_DETACH)) } }
        let before = try s.trees(["list", "--json"]).stdout
        for (i, source) in sources.enumerated() {
            let r = try s.trees(["install", "app@x\(i)", source])
            #expect(r.status == 65, "\(source): \(r.stderr)")
            #expect(r.stderr.contains("root"), "\(source): \(r.stderr)")
            #expect(!s.exists("root/app/x\(i)"))
        }
        #expect(rawNames(s.root + "/.trees/staging").isEmpty)
        #expect(try s.trees(["list", "--json"]).stdout == before)
    }

    /// git on a full disk failed like a missing ref (66); it is temporary (75).
    @Test(.enabled(if: getuid() == 0, "needs root to mount a tmpfs"))
    func gitOnAFullDiskGives75() throws {
        let s = try Scratch()
        let repo = s.path + "/repo"
        let noise = (0..<600_000).map { _ in UInt8.random(in: 0...255) }
        try s.write("repo/a.txt", "a\n")
        try Data(noise).write(to: URL(fileURLWithPath: repo + "/noise.bin"))
        let env = ["GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"]
        for args in [["init", "-q", repo], ["-C", repo, "add", "."], ["-C", repo, "commit", "-qm", "one"]] {
            #expect(try run("/usr/bin/git", args, environment: env).status == 0)
        }
        mkdir(s.root, 0o755)
        try #require(try run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "trees-test-full", s.root]).status == 0)
        defer { unmountAll(under: s.path) }
        let r = try s.trees(["install", "app@g1", repo, "--git-ref", "HEAD"])
        #expect(r.status == 75, "\(r.stderr)")
        #expect(!s.exists("root/app/g1"))
        #expect(rawNames(s.root + "/.trees/staging").isEmpty)
    }

    /// A retried install of identical content reads the source and writes
    /// nothing: on a root with no space left it still succeeds (a copy into
    /// staging would fail with 75), and changed content is still refused.
    @Test(.enabled(if: getuid() == 0, "needs root to mount a tmpfs"))
    func identicalReinstallWritesNothing() throws {
        let s = try Scratch()
        try s.write("src/bin/tool", "#!/bin/sh\n", executable: true)
        try s.write("src/lib/data.txt", String(repeating: "d", count: 100_000))
        chmod(s.path + "/src/lib", 0o775)
        symlink("../bin/tool", s.path + "/src/lib/link")
        mkdir(s.root, 0o755)
        try #require(try run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "trees-test-full", s.root]).status == 0)
        defer { unmountAll(under: s.path) }
        #expect(try s.trees(["install", "app@r1", s.path + "/src"]).status == 0)
        let filler = s.root + "/filler"
        _ = try? Data(count: 2 << 20).write(to: URL(fileURLWithPath: filler))
        var fs = statvfs()
        statvfs(s.root, &fs)
        #expect(fs.f_bavail == 0, "the tmpfs should be full")
        let again = try s.trees(["install", "app@r1", s.path + "/src"])
        #expect(again.status == 0, "\(again.stderr)")
        try s.write("src/lib/data.txt", "changed\n")
        unlink(filler)
        let conflict = try s.trees(["install", "app@r1", s.path + "/src"])
        #expect(conflict.status == 65, "\(conflict.stderr)")
    }

    // MARK: git runs nothing from the repository

    /// A local repository whose own config defines a smudge filter (and an
    /// fsmonitor hook) that `.gitattributes` applies: `git archive` in that
    /// repository ran it as the installing user. Nothing may run: the
    /// markers never appear, and the file is installed as committed.
    @Test func gitRunsNoFilterOrHookFromTheRepository() throws {
        let s = try Scratch()
        let repo = s.path + "/repo"
        let marker = s.path + "/SMUDGE_RAN", monitor = s.path + "/FSMONITOR_RAN"
        try s.write("repo/job.py", "print('committed')\n")
        try s.write("repo/.gitattributes", "* filter=evil\n")
        let env = ["GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"]
        for args in [["init", "-q", repo], ["-C", repo, "add", "."], ["-C", repo, "commit", "-qm", "one"],
                     ["-C", repo, "config", "filter.evil.smudge", "touch \(marker); cat"],
                     ["-C", repo, "config", "filter.evil.required", "true"],
                     ["-C", repo, "config", "core.fsmonitor", "touch \(monitor); true"]] {
            #expect(try run("/usr/bin/git", args, environment: env).status == 0)
        }
        for source in [repo, "file://" + repo] {
            let rev = source == repo ? "r1" : "r2"
            let r = try s.trees(["install", "app@\(rev)", source, "--git-ref", "HEAD"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try String(contentsOfFile: s.root + "/app/\(rev)/job.py", encoding: .utf8) == "print('committed')\n")
        }
        #expect(!s.exists("SMUDGE_RAN"), "git ran the repository's smudge filter")
        #expect(!s.exists("FSMONITOR_RAN"), "git ran the repository's fsmonitor hook")
    }

    // MARK: verify: modes, owners, types, and output that cannot forge lines

    @Test func verifyReportsModesOwnersAndTypes() throws {
        let s = try Scratch()
        try s.write("src/bin/tool", "#!/bin/sh\n", executable: true)
        try s.write("src/lib/data.txt", "data\n")
        try s.write("src/etc/conf", "conf\n")
        #expect(try s.trees(["install", "app@r1", s.path + "/src"]).status == 0)
        let tree = s.root + "/app/r1"
        #expect(try s.trees(["verify", "app@r1"]).status == 0)
        chmod(tree + "/bin/tool", 0o4555)
        chmod(tree + "/lib", 0o757)
        chown(tree + "/lib/data.txt", 12345, 12346)
        unlink(tree + "/etc/conf")
        mkfifo(tree + "/etc/conf", 0o444)
        chmod(tree, 0o1777)
        let r = try s.trees(["verify", "app@r1"])
        #expect(r.status == 65)
        let lines = Set(r.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        #expect(lines.contains("mode changed: bin/tool 0555 -> 4555"), "\(r.stdout)")
        #expect(lines.contains("mode changed: lib 0555 -> 0757"), "\(r.stdout)")
        #expect(lines.contains("owner changed: lib/data.txt 0:0 -> 12345:12346"), "\(r.stdout)")
        #expect(lines.contains("type changed: etc/conf file -> special file"), "\(r.stdout)")
        #expect(lines.contains("mode changed: . 0555 -> 1777"), "\(r.stdout)")
    }

    /// A name holding a newline, an escape sequence or invalid UTF-8 prints
    /// escaped on its own line: it cannot forge "intact" or another path.
    @Test func verifyOutputEscapesNames() throws {
        let s = try Scratch()
        try s.write("src/a.txt", "a\n")
        #expect(try s.trees(["install", "app@r1", s.path + "/src"]).status == 0)
        let tree = s.root + "/app/r1"
        chmod(tree, 0o755)
        writeRaw(tree, Array("x\n  removed: a.txt\u{1b}[2J".utf8) + [0xff], "forged\n")
        chmod(tree, 0o555)
        let r = try s.trees(["verify", "app@r1"])
        #expect(r.status == 65)
        #expect(r.stdout == "app@r1: modified\n  added: x\\x0a  removed: a.txt\\x1b[2J\\xff\n", "\(r.stdout)")
    }
}

/// Runs trees at `ulimit -n 1024`, as the host did.
func treesLimited(_ s: Scratch, _ arguments: [String]) throws -> RunResult {
    let args = Array(arguments.prefix(1)) + ["--root", s.root] + arguments.dropFirst(1)
    return try run("/bin/sh", ["-c", "ulimit -n 1024 && exec \"$0\" \"$@\"", treesBinary] + args)
}


/// Removes a chain made by `makeDeepChain` with `rm -rf` (fts, no stack
/// recursion), so the test's own cleanup (FileManager recurses) never meets it.
func removeDeepChain(_ path: String) {
    _ = try? run("/bin/rm", ["-rf", path])
}
