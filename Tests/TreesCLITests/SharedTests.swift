import Foundation
import Testing

/// What a refused command must leave as it was: every path under the root
/// but the database's own files, the declarations and the trees.
func sharedSnapshot(_ s: Scratch) throws -> [String] {
    let paths = listing(s.root).filter { !$0.hasPrefix(".trees") }
    let declared = try s.trees(["shared", "app", "list", "--json"]).stdout
    let trees = try s.trees(["list", "--all", "--json"]).stdout
    return paths + [declared, trees]
}

/// The target of the symlink at `path`, nil when it is none.
func linkTarget(_ path: String) -> String? {
    try? FileManager.default.destinationOfSymbolicLink(atPath: path)
}

@Suite("shared directories")
struct SharedTests {
    /// A source for `app@REV` with a couple of files and, in `extra`, more (relative path → content).
    func source(_ s: Scratch, _ rev: String, _ extra: [String: String] = [:]) throws -> String {
        try s.write("src-\(rev)/bin/run", "#!/bin/sh\necho \(rev)\n", executable: true)
        try s.write("src-\(rev)/lib/x/code.txt", "\(rev)\n")
        for (path, content) in extra { try s.write("src-\(rev)/\(path)", content) }
        return s.path + "/src-\(rev)"
    }

    func install(_ s: Scratch, _ rev: String, _ extra: [String: String] = [:], activate: Bool = true) throws {
        let r = try s.trees(["install", "app@\(rev)", try source(s, rev, extra)] + (activate ? ["--activate"] : []))
        #expect(r.status == 0, "install \(rev): \(r.stderr)")
    }

    @Test func firstDeployWithADeclaredSharedDirectoryWorks() throws {
        let s = try Scratch()
        // Declared before anything was installed: the root is made for it.
        let add = try s.trees(["shared", "app", "add", "lib/x/log", "--mode", "0750", "--json"])
        #expect(add.status == 0, "\(add.stderr)")
        let row = try json(add.stdout) as? [String: Any]
        #expect(row?["path"] as? String == "lib/x/log" && row?["mode"] as? String == "0750" && row?["ok"] as? Bool == true, "\(add.stdout)")
        #expect(row?["location"] as? String == s.root + "/app/shared/lib/x/log")
        var st = stat()
        #expect(lstat(s.root + "/app/shared/lib/x/log", &st) == 0 && st.st_mode & S_IFMT == S_IFDIR && st.st_mode & 0o7777 == 0o750)

        try install(s, "r1")
        #expect(linkTarget(s.root + "/app/r1/lib/x/log") == "../../../shared/lib/x/log")
        // The link is part of the manifest: verify passes, and says so in JSON.
        let verify = try s.trees(["verify", "app@r1", "--json"])
        #expect(try verify.status == 0 && (json(verify.stdout) as? [String: Any])?["intact"] as? Bool == true, "\(verify.stdout)")

        // The job writes its log through the link of its read-only tree, and finds TREES_SHARED.
        let job = try s.trees(["exec", "app", "--", "/bin/sh", "-c", "echo written >> lib/x/log/out && printf %s \"$TREES_SHARED\""])
        #expect(job.status == 0, "\(job.stderr)")
        #expect(job.stdout == s.root + "/app/shared")
        #expect(try String(contentsOfFile: s.root + "/app/shared/lib/x/log/out", encoding: .utf8) == "written\n")
        #expect(try s.trees(["verify", "app@r1"]).status == 0)
        #expect(try s.trees(["doctor"]).status == 0)

        let list = try s.trees(["shared", "app", "list"])
        #expect(list.status == 0 && list.stdout.contains("lib/x/log") && list.stdout.contains("ok"), "\(list.stdout)")
        // gc, list and doctor never take ROOT/app/shared for a tree.
        let trees = try json(try s.trees(["list", "--all", "--json"]).stdout) as? [[String: Any]] ?? []
        #expect(trees.map { $0["rev"] as? String } == ["r1"])
    }

    @Test(.enabled(if: canMakeUsers, "needs root, useradd and setpriv"))
    func aJobUserWritesItsLogThroughTheLinkOfAReadOnlyTree() throws {
        let s = try Scratch()
        chmod(s.path, 0o755)
        let job = try TestUser()
        #expect(try s.trees(["shared", "app", "add", "log", "--owner", "\(job.name)", "--mode", "0700"]).status == 0)
        try install(s, "r1")
        var st = stat()
        #expect(lstat(s.root + "/app/shared/log", &st) == 0 && Int(st.st_uid) == job.uid && Int(st.st_gid) == job.gid)
        let current = s.root + "/app/current"
        let write = try job.run("/bin/sh", ["-c", "echo from-job >> \(current)/log/app.log"])
        #expect(write.status == 0, "\(write.stderr)")
        #expect(try String(contentsOfFile: s.root + "/app/shared/log/app.log", encoding: .utf8) == "from-job\n")
        // The tree itself stays read-only to the job.
        #expect(try job.run("/bin/sh", ["-c", "echo x > \(current)/bin/run"]).status != 0)
        #expect(try job.run("/bin/sh", ["-c", "echo x > \(current)/new"]).status != 0)
        #expect(try s.trees(["verify", "app@r1"]).status == 0)

        // activate refuses (75) a shared path its job user cannot write, and current stays.
        try install(s, "r2", activate: false)
        chmod(s.root + "/app/shared", 0o700)
        let refused = try s.trees(["activate", "app@r2"])
        #expect(refused.status == 75 && refused.stderr.contains("cannot search"), "\(refused.stderr)")
        #expect(linkTarget(current) == "r1")
        chmod(s.root + "/app/shared", 0o755)
        #expect(try s.trees(["activate", "app@r2"]).status == 0)
    }

    @Test func aSharedPathDeclaredAfterInstallsReachesNewTreesOnly() throws {
        let s = try Scratch()
        try install(s, "r1")
        try install(s, "r2")
        #expect(try s.trees(["shared", "app", "add", "var/uploads"]).status == 0)
        #expect(try s.trees(["shared", "app", "add", "settings.ini", "--file", "--mode", "600"]).status == 0)
        // Old trees are as they were, and still run.
        #expect(!s.exists("root/app/r2/var") && !s.exists("root/app/r1/var"))
        #expect(try s.trees(["verify", "app@r1"]).status == 0 && s.trees(["verify", "app@r2"]).status == 0)
        #expect(try s.trees(["exec", "app", "--", "bin/run"]).stdout == "r2\n")

        try install(s, "r3")
        #expect(linkTarget(s.root + "/app/r3/var/uploads") == "../../shared/var/uploads")
        #expect(linkTarget(s.root + "/app/r3/settings.ini") == "../shared/settings.ini")
        var st = stat()
        #expect(lstat(s.root + "/app/shared/settings.ini", &st) == 0 && st.st_mode & S_IFMT == S_IFREG && st.st_mode & 0o7777 == 0o600)
        let job = try s.trees(["exec", "app", "--", "/bin/sh", "-c", "echo a > var/uploads/f && echo k=v > settings.ini && bin/run"])
        #expect(job.status == 0 && job.stdout == "r3\n", "\(job.stderr)")
        #expect(try s.trees(["verify", "app@r3"]).status == 0)
        // Rolling back to a tree from before the declaration works, and forward again.
        #expect(try s.trees(["rollback", "app", "--no-mark"]).status == 0)
        #expect(try s.trees(["exec", "app", "--", "bin/run"]).stdout == "r2\n")
        #expect(try s.trees(["activate", "app@r3"]).status == 0)
        #expect(try String(contentsOfFile: s.root + "/app/shared/settings.ini", encoding: .utf8) == "k=v\n")

        // Forgetting a declaration keeps the data and the links already made.
        let removed = try s.trees(["shared", "app", "remove", "var/uploads"])
        #expect(removed.status == 0, "\(removed.stderr)")
        try install(s, "r4")
        #expect(!s.exists("root/app/r4/var"))
        #expect(s.exists("root/app/shared/var/uploads/f") && linkTarget(s.root + "/app/r3/var/uploads") != nil)
        #expect(try s.trees(["shared", "app", "remove", "var/uploads"]).status == 66)
        #expect(try s.trees(["doctor"]).status == 0)
    }

    @Test func aRetriedInstallIsANoOpWhateverSharedPathsChangedMeanwhile() throws {
        let s = try Scratch()
        // An archive installed before a declaration, installed again after it.
        let src1 = try source(s, "r1")
        #expect(try run("/bin/tar", ["-cf", s.path + "/r1.tar", "-C", src1, "."]).status == 0)
        #expect(try s.trees(["install", "app@r1", s.path + "/r1.tar", "--activate"]).status == 0)
        #expect(try s.trees(["shared", "app", "add", "log"]).status == 0)
        var again = try s.trees(["install", "app@r1", s.path + "/r1.tar"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(!s.exists("root/app/r1/log"))
        // A directory installed with a link, installed again once it is forgotten, and once another is declared.
        try install(s, "r2")
        #expect(linkTarget(s.root + "/app/r2/log") == "../shared/log")
        #expect(try s.trees(["shared", "app", "add", "var/run"]).status == 0)
        again = try s.trees(["install", "app@r2", s.path + "/src-r2"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try s.trees(["shared", "app", "remove", "log"]).status == 0)
        #expect(try s.trees(["install", "app@r2", s.path + "/src-r2"]).status == 0)
        #expect(linkTarget(s.root + "/app/r2/log") == "../shared/log" && !s.exists("root/app/r2/var"))
        // Different content is still refused.
        try s.write("src-r2/lib/x/code.txt", "changed\n")
        #expect(try s.trees(["install", "app@r2", s.path + "/src-r2"]).status == 65)
        try s.write("src-r2/lib/x/code.txt", "r2\n")
        try s.write("src-r2/var/run/pid", "1\n")
        #expect(try s.trees(["install", "app@r2", s.path + "/src-r2"]).status == 65)
        #expect(try s.trees(["verify", "app@r1"]).status == 0 && s.trees(["verify", "app@r2"]).status == 0)
    }

    @Test func aSourceWithContentAtASharedPathIsRefusedAndNothingChanges() throws {
        let s = try Scratch()
        try install(s, "r1")
        #expect(try s.trees(["shared", "app", "add", "log"]).status == 0)
        #expect(try s.trees(["shared", "app", "add", "etc/app.conf", "--file"]).status == 0)
        let before = try sharedSnapshot(s)
        for (extra, what) in [(["log/old.txt": "old\n"], "directory"), (["etc/app.conf": "x=1\n"], "file"),
                              (["etc": "a file where a directory must go\n"], "file")] {
            let src = try source(s, "r2", extra)
            let r = try s.trees(["install", "app@r2", src, "--activate"])
            #expect(r.status == 65, "\(extra): \(r.stderr)")
            #expect(r.stderr.contains(what), "\(r.stderr)")
            #expect(try sharedSnapshot(s) == before, "\(extra) changed something")
            _ = try run("/bin/rm", ["-rf", src])
        }
        // The same from an archive.
        let src = try source(s, "r2", ["log/old.txt": "old\n"])
        #expect(try run("/bin/tar", ["-cf", s.path + "/r2.tar", "-C", src, "."]).status == 0)
        #expect(try s.trees(["install", "app@r2", s.path + "/r2.tar"]).status == 65)
        #expect(try sharedSnapshot(s) == before)
        #expect(linkTarget(s.root + "/app/current") == "r1")
    }

    @Test func seedCopiesASourcesContentIntoSharedOnce() throws {
        let s = try Scratch()
        #expect(try s.trees(["shared", "app", "add", "conf", "--seed"]).status == 0)
        #expect(try s.trees(["shared", "app", "add", "data/db.txt", "--file", "--seed"]).status == 0)
        try install(s, "r1", ["conf/a.txt": "v1\n", "conf/sub/b.txt": "b1\n", "data/db.txt": "db1\n"])
        #expect(linkTarget(s.root + "/app/r1/conf") == "../shared/conf")
        #expect(linkTarget(s.root + "/app/r1/data/db.txt") == "../../shared/data/db.txt")
        #expect(try String(contentsOfFile: s.root + "/app/shared/conf/a.txt", encoding: .utf8) == "v1\n")
        #expect(try String(contentsOfFile: s.root + "/app/shared/conf/sub/b.txt", encoding: .utf8) == "b1\n")
        #expect(try String(contentsOfFile: s.root + "/app/shared/data/db.txt", encoding: .utf8) == "db1\n")
        #expect(try s.trees(["verify", "app@r1"]).status == 0)
        // Once: the next release's seed does not overwrite what is there.
        try install(s, "r2", ["conf/a.txt": "v2\n", "data/db.txt": "db2\n"])
        #expect(try String(contentsOfFile: s.root + "/app/shared/conf/a.txt", encoding: .utf8) == "v1\n")
        #expect(try String(contentsOfFile: s.root + "/app/shared/data/db.txt", encoding: .utf8) == "db1\n")
        #expect(linkTarget(s.root + "/app/r2/conf") == "../shared/conf")
        #expect(try s.trees(["verify", "app@r2"]).status == 0)
        // A seed of another kind than declared is refused.
        #expect(try s.trees(["install", "app@r3", try source(s, "r3", ["conf": "a file\n"])]).status == 65)
    }

    static let hostilePaths = ["../x", "/abs", "a/../b", ".", "", "a//b", "a/./b", "log/", "/", "..",
                               "current", "current/x", "shared", ".trees/x", "x\ny", "x\u{1b}[2J"]

    @Test(arguments: hostilePaths)
    func hostileSharedPathsAreRefusedAndNothingChanges(_ path: String) throws {
        let s = try Scratch()
        try install(s, "r1")
        let before = try sharedSnapshot(s)
        let r = try s.trees(["shared", "app", "add", path])
        #expect(r.status == 65 || r.status == 64, "\(path): \(r.status) \(r.stderr)")
        #expect(try sharedSnapshot(s) == before)
        #expect(!s.exists("root/app/shared"))
        #expect(try s.trees(["shared", "app", "remove", path]).status != 0)
    }

    @Test func pathsClashingWithTheTreeOrEachOtherAreRefused() throws {
        let s = try Scratch()
        try install(s, "r1")
        // r2 holds a symlink to a directory outside: never followed, never written through.
        try s.write("link-target/x", "")
        let src = try source(s, "r2")
        #expect(symlink(s.path + "/link-target", src + "/lib/ln") == 0)
        #expect(try s.trees(["install", "app@r2", src, "--activate"]).status == 0)
        #expect(try s.trees(["shared", "app", "add", "lib/x/log"]).status == 0)
        let before = try sharedSnapshot(s)
        for (args, status) in [(["bin/run"], 65), (["bin/run/x"], 65), (["lib/x/code.txt", "--file"], 65),
                               (["lib/ln/x"], 65), (["lib/ln"], 65),
                               (["lib/x/log/app"], 65), (["lib"], 65), (["lib/x"], 65),
                               (["tmp", "--mode", "999"], 64), (["tmp", "--mode", "u+w"], 64), (["tmp", "--mode", "+7"], 64),
                               (["tmp", "--owner", "no-such-user-here"], 65), (["tmp", "--owner", ":"], 65),
                               (["tmp", "--owner", "0:no-such-group-here"], 65)] {
            let r = try s.trees(["shared", "app", "add"] + args)
            #expect(r.status == Int32(status), "\(args): \(r.status) \(r.stderr)")
            #expect(try sharedSnapshot(s) == before, "\(args) changed something")
        }
        #expect(listing(s.path + "/link-target") == ["x"])
        // Usage errors: list takes no PATH, add needs one, add's options go with add only.
        #expect(try s.trees(["shared", "app", "list", "x"]).status == 64)
        #expect(try s.trees(["shared", "app", "add"]).status == 64)
        #expect(try s.trees(["shared", "app", "remove", "lib/x/log", "--seed"]).status == 64)
        #expect(try s.trees(["shared", "app", "frob", "x"]).status == 64)
        #expect(try s.trees(["shared", "App", "list"]).status == 65)
        // A revision may never be named shared (nor current).
        #expect(try s.trees(["install", "app@shared", s.path + "/src-r2"]).status == 65)
        #expect(try s.trees(["install", "app@current", s.path + "/src-r2"]).status == 65)
    }

    @Test func gcNeverDeletesSharedAndOnlyPurgeDoes() throws {
        let s = try Scratch()
        #expect(try s.trees(["shared", "app", "add", "log"]).status == 0)
        try install(s, "r1")
        #expect(try s.trees(["exec", "app", "--", "/bin/sh", "-c", "echo kept > log/out"]).status == 0)
        try install(s, "r2")
        try install(s, "r3")
        let gc = try s.trees(["gc", "--keep", "0", "--min-age", "0", "--json"])
        #expect(gc.status == 0, "\(gc.stderr)")
        let outcomes = try json(gc.stdout) as? [[String: Any]] ?? []
        #expect(!outcomes.contains { $0["rev"] as? String == "shared" }, "\(gc.stdout)")
        #expect(!s.exists("root/app/r1") && !s.exists("root/app/r2") && s.exists("root/app/r3"))
        #expect(try String(contentsOfFile: s.root + "/app/shared/log/out", encoding: .utf8) == "kept\n")
        #expect(try s.trees(["doctor"]).status == 0)

        // Purge takes NAME only, and waits for nothing: in use is 75, nothing deleted.
        #expect(try s.trees(["remove", "app@r3", "--purge-shared"]).status == 64)
        let job = try Background(treesBinary, ["exec", "--root", s.root, "app", "--", "/bin/sleep", "30"])
        #expect(try eventually { try psEvidence(s)["\(job.pid) app@r3"] != nil })
        let busy = try s.trees(["remove", "app", "--purge-shared"])
        #expect(busy.status == 75, "\(busy.stderr)")
        #expect(s.exists("root/app/shared/log/out"))
        job.stop()
        let purge = try s.trees(["remove", "app", "--purge-shared", "--json"])
        #expect(purge.status == 0, "\(purge.stderr)")
        #expect((try json(purge.stdout) as? [String: Any])?["removed"] as? String == s.root + "/app/shared")
        #expect(!s.exists("root/app/shared") && s.exists("root/app/r3"))
        #expect((try json(try s.trees(["shared", "app", "list", "--json"]).stdout) as? [Any])?.isEmpty == true)
        // Run again, it has nothing left to do.
        #expect(try s.trees(["remove", "app", "--purge-shared"]).status == 0)
    }

    @Test func doctorReportsDanglingLinksWrongModesAndNestedDeclarationsAndRepairs() throws {
        let s = try Scratch()
        #expect(try s.trees(["shared", "app", "add", "log", "--mode", "0750"]).status == 0)
        try install(s, "r1")
        _ = try run("/bin/rm", ["-rf", s.root + "/app/shared/log"])
        var r = try s.trees(["doctor", "--json"])
        #expect(r.status == 65)
        var kinds = Set(((try json(r.stdout) as? [String: Any])?["findings"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String })
        #expect(kinds == ["shared-path", "shared-link-dangling"], "\(r.stdout)")
        // activate makes it again before it switches.
        try install(s, "r2", activate: false)
        #expect(try s.trees(["activate", "app@r2"]).status == 0)
        #expect(try s.trees(["doctor"]).status == 0)

        chmod(s.root + "/app/shared/log", 0o777)
        r = try s.trees(["doctor"])
        #expect(r.status == 65 && r.stdout.contains("mode 0777, declared 0750"), "\(r.stdout)")
        r = try s.trees(["doctor", "--repair"])
        #expect(r.status == 0, "\(r.stdout)")
        var st = stat()
        #expect(lstat(s.root + "/app/shared/log", &st) == 0 && st.st_mode & 0o7777 == 0o750)

        // Something else in the way: activate refuses (75) and current stays.
        _ = try run("/bin/rm", ["-rf", s.root + "/app/shared/log"])
        try s.write("root/app/shared/log", "not a directory\n")
        let refused = try s.trees(["activate", "app@r1"])
        #expect(refused.status == 75, "\(refused.stderr)")
        #expect(linkTarget(s.root + "/app/current") == "r2")
        _ = try run("/bin/rm", ["-f", s.root + "/app/shared/log"])

        // A nested declaration (only a tampered database holds one) is reported.
        let db = s.root + "/.trees/state.db"
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3") {
            _ = try run("/usr/bin/sqlite3", [db, "INSERT INTO shared_paths (name, path, kind, mode, declared_at) VALUES ('app', 'log/inner', 'directory', 493, 0)"])
            r = try s.trees(["doctor", "--json"])
            kinds = Set(((try json(r.stdout) as? [String: Any])?["findings"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String })
            #expect(kinds.contains("shared-nested"), "\(r.stdout)")
        }
    }
}
