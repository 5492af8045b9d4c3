import Foundation
import Testing

@Suite("install, activate, rollback, list, verify")
struct InstallTests {
    /// A small source directory with a nested dir, an executable and a symlink out.
    func makeSource(_ s: Scratch, _ name: String = "src", linkOut: Bool = true) throws -> String {
        try s.write("\(name)/bin/job.sh", "#!/bin/sh\necho job\n", executable: true)
        try s.write("\(name)/lib/data.txt", "data\n")
        try FileManager.default.createSymbolicLink(atPath: s.path + "/\(name)/lib/self", withDestinationPath: "../bin/job.sh")
        if linkOut {
            // Content, not a path to follow: a directory source may link to shared configuration.
            try FileManager.default.createSymbolicLink(atPath: s.path + "/\(name)/shared.conf", withDestinationPath: "/etc/hostname")
        }
        return s.path + "/" + name
    }

    @Test func directorySourceInstallsReadOnlyAndPrintsPath() throws {
        let s = try Scratch()
        let src = try makeSource(s)
        let r = try s.trees(["install", "app@r1", src])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == s.root + "/app/r1\n")
        let tree = s.root + "/app/r1"
        #expect(try String(contentsOfFile: tree + "/lib/data.txt", encoding: .utf8) == "data\n")
        // Symlinks are copied as symlinks, never followed.
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: tree + "/shared.conf") == "/etc/hostname")
        // No write bits anywhere; exec bits kept.
        for rel in ["", "/bin", "/bin/job.sh", "/lib/data.txt"] {
            var st = stat()
            #expect(lstat(tree + rel, &st) == 0)
            #expect(st.st_mode & 0o222 == 0, "\(rel) still writable")
        }
        #expect(FileManager.default.isExecutableFile(atPath: tree + "/bin/job.sh"))
        #expect(listing(s.root + "/.trees/staging").isEmpty)
    }

    @Test func reinstallSameContentIsNoOpAndDifferentContentConflicts() throws {
        let s = try Scratch()
        let src = try makeSource(s)
        #expect(try s.trees(["install", "app@r1", src]).status == 0)
        let before = try s.trees(["list", "--json"]).stdout
        let again = try s.trees(["install", "app@r1", src])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try s.trees(["list", "--json"]).stdout == before)

        try s.write("src/lib/data.txt", "changed\n")
        let conflict = try s.trees(["install", "app@r1", src])
        #expect(conflict.status == 65)
        #expect(conflict.stderr.contains("different content"))
        #expect(try String(contentsOfFile: s.root + "/app/r1/lib/data.txt", encoding: .utf8) == "data\n")
        #expect(try s.trees(["list", "--json"]).stdout == before)
    }

    @Test func archiveSourcesOfEveryCompression() throws {
        let s = try Scratch()
        // Archives are stricter than directories: no symlink may point outside.
        let src = try makeSource(s, linkOut: false)
        var digests: Set<String> = []
        for (i, (suffix, flag)) in [(".tar", ""), (".tar.gz", "z"), (".tgz", "z"), (".tar.xz", "J"), (".tar.zst", "--zstd")].enumerated() {
            let archive = s.path + "/a\(i)\(suffix)"
            let args = flag.hasPrefix("--") ? ["-c", flag, "-f", archive, "-C", src, "."] : ["-c\(flag)f", archive, "-C", src, "."]
            #expect(try run("/usr/bin/tar", args).status == 0)
            let r = try s.trees(["install", "app@a\(i)", archive])
            #expect(r.status == 0, "\(suffix): \(r.stderr)")
            #expect(try String(contentsOfFile: s.root + "/app/a\(i)/lib/data.txt", encoding: .utf8) == "data\n")
            let list = try json(try s.trees(["list", "--json"]).stdout) as! [[String: Any]]
            digests.insert(list.first { $0["rev"] as? String == "a\(i)" }!["digest"] as! String)
        }
        // The digest is of content, not of the container it came in.
        #expect(digests.count == 1)
    }

    @Test func gitSourceExportsTheRef() throws {
        let s = try Scratch()
        let repo = s.path + "/repo"
        try s.write("repo/job.py", "print('v1')\n")
        let env = ["GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"]
        for args in [["init", "-q", repo], ["-C", repo, "add", "."], ["-C", repo, "commit", "-qm", "one"], ["-C", repo, "tag", "v1"]] {
            #expect(try run("/usr/bin/git", args, environment: env).status == 0)
        }
        try s.write("repo/job.py", "print('v2')\n")
        #expect(try run("/usr/bin/git", ["-C", repo, "commit", "-qam", "two"], environment: env).status == 0)

        let r = try s.trees(["install", "app@v1", repo, "--git-ref", "v1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try String(contentsOfFile: s.root + "/app/v1/job.py", encoding: .utf8) == "print('v1')\n")
        #expect(!s.exists("root/app/v1/.git"))
        // A URL source goes through clone.
        let url = try s.trees(["install", "app@head", "file://" + repo, "--git-ref", "HEAD"])
        #expect(url.status == 0, "\(url.stderr)")
        #expect(try String(contentsOfFile: s.root + "/app/head/job.py", encoding: .utf8) == "print('v2')\n")

        let missingRef = try s.trees(["install", "app@x", repo, "--git-ref", "nosuch"])
        #expect(missingRef.status == 66)
        let optionRef = try s.trees(["install", "app@x", repo, "--git-ref=--upload-pack=touch /tmp/x"])
        #expect(optionRef.status == 65)
        #expect(!s.exists("root/app/x"))
    }

    @Test func activateAndRollback() throws {
        let s = try Scratch()
        let src = try makeSource(s)
        #expect(try s.trees(["install", "app@r1", src, "--activate"]).status == 0)
        #expect(try s.trees(["rollback", "app"]).status == 66)
        try s.write("src/lib/data.txt", "two\n")
        #expect(try s.trees(["install", "app@r2", src, "--activate"]).status == 0)
        let link = s.root + "/app/current"
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "r2")
        #expect(try s.trees(["rollback", "app", "--no-mark"]).status == 0)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "r1")
        #expect(try s.trees(["rollback", "app"]).status == 0)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "r2")
        // That rollback marked r1 bad: there is nowhere left to go back to.
        #expect(try s.trees(["rollback", "app"]).status == 66)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "r2")
        let list = try json(try s.trees(["list", "app", "--json"]).stdout) as! [[String: Any]]
        #expect(list.map { $0["current"] as! Bool } == [false, true])
        #expect(list.map { $0["verdict"] as! String } == ["bad", "unverified"])
        #expect(Set(list[0].keys) == ["name", "rev", "path", "state", "current", "pinned", "verdict", "installed_at", "bytes", "files", "digest", "leases"])
        #expect((list[0]["installed_at"] as! String).hasSuffix("Z"))
        #expect(try s.trees(["activate", "app@r9"]).status == 66)
        #expect(try s.trees(["rollback", "other"]).status == 66)
    }

    @Test func verifyReportsModifiedPaths() throws {
        let s = try Scratch()
        let src = try makeSource(s)
        #expect(try s.trees(["install", "app@r1", src]).status == 0)
        #expect(try s.trees(["verify", "app@r1"]).status == 0)
        let tree = s.root + "/app/r1"
        chmod(tree + "/lib", 0o755)
        chmod(tree + "/lib/data.txt", 0o644)
        try "tampered\n".write(toFile: tree + "/lib/data.txt", atomically: false, encoding: .utf8)
        try "new\n".write(toFile: tree + "/lib/added.txt", atomically: false, encoding: .utf8)
        let r = try s.trees(["verify", "app@r1", "--json"])
        #expect(r.status == 65)
        let report = try json(r.stdout) as! [String: Any]
        let differences = report["differences"] as! [String]
        #expect(differences.contains("modified: lib/data.txt"))
        #expect(differences.contains("added: lib/added.txt"))
        #expect(try s.trees(["verify", "app@r2"]).status == 66)
    }

    @Test(arguments: ["", "App", "a/b", "..", ".", "-x", "a b", String(repeating: "a", count: 65), "ä", "a\u{0}b"])
    func invalidNamesAreRefusedBeforeAnythingIsWritten(name: String) throws {
        let s = try Scratch()
        let src = try makeSource(s)
        let r = try s.trees(["install", "--", "\(name)@r1", src])
        #expect(r.status == 65, "\(name): \(r.stderr)")
        #expect(!s.exists("root"))
    }

    @Test(arguments: ["", "current", "..", "../x", "a/b", "-r", ".r", String(repeating: "r", count: 129), "r\nx"])
    func invalidRevsAreRefusedBeforeAnythingIsWritten(rev: String) throws {
        let s = try Scratch()
        let src = try makeSource(s)
        let r = try s.trees(["install", "--", "app@\(rev)", src])
        #expect(r.status == 65, "\(rev): \(r.stderr)")
        #expect(!s.exists("root"))
    }

    @Test func missingAndUnsupportedSources() throws {
        let s = try Scratch()
        #expect(try s.trees(["install", "app@r1", s.path + "/nope"]).status == 66)
        let zip = try s.write("x.zip", "PK")
        #expect(try s.trees(["install", "app@r1", zip]).status == 65)
        #expect(!s.exists("root"))
        let fifo = s.path + "/src/pipe"
        _ = try makeSource(s)
        #expect(mkfifo(fifo, 0o644) == 0)
        let r = try s.trees(["install", "app@r1", s.path + "/src"])
        #expect(r.status == 65)
        #expect(r.stderr.contains("FIFO"))
        #expect(!s.exists("root/app/r1"))
        #expect(listing(s.root + "/.trees/staging").isEmpty)
    }

    @Test func sourceHoldingTheRootIsRefused() throws {
        let s = try Scratch()
        _ = try makeSource(s)
        #expect(try s.trees(["install", "app@r1", s.path + "/src"]).status == 0)
        let r = try s.trees(["install", "app@r2", s.path])
        #expect(r.status == 65)
    }

    @Test func damagedDatabaseIsReportedAndNeverOverwritten() throws {
        let s = try Scratch()
        let src = try makeSource(s)
        #expect(try s.trees(["install", "app@r1", src]).status == 0)
        let db = s.root + "/.trees/state.db"
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) }
        let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try garbage.write(to: URL(fileURLWithPath: db))
        for args in [["list"], ["install", "app@r2", src], ["activate", "app@r1"], ["verify", "app@r1"]] {
            let r = try s.trees(args)
            #expect(r.status == 1, "\(args): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(db))
            #expect(r.stderr.contains("never overwrites"))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: db)) == garbage)
        #expect(!s.exists("root/app/r2"))
    }
}
