import Foundation
import Testing

/// Issue 9's deduplicated installs: what is shared, what is not, and what
/// list, gc and verify say about shared files.
@Suite("deduplicated installs")
struct DedupTests {
    /// 20 files of 100 bytes each in v1; v2 a copy with `changed` rewritten (same size).
    func twoRevisions(_ s: Scratch, changed: [Int] = [3]) throws {
        for i in 0..<20 {
            let head = "file \(i) "
            try s.write("v1/d\(i % 4)/f\(i)", head + String(repeating: "-", count: 99 - head.count) + "\n")
        }
        _ = try run("/bin/cp", ["-a", s.path + "/v1", s.path + "/v2"])
        for i in changed { try s.write("v2/d\(i % 4)/f\(i)", String(repeating: "x", count: 99) + "\n") }
    }

    func inode(_ path: String) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as! Int
    }

    func row(_ s: Scratch, _ rev: String) throws -> [String: Any] {
        let rows = try json(try s.trees(["list", "--usage", "--json"]).stdout) as! [[String: Any]]
        return try #require(rows.first { $0["rev"] as? String == rev })
    }

    @Test func unchangedFilesAreSharedAndChangedOnesCopied() throws {
        let s = try Scratch()
        try twoRevisions(s)
        #expect(try s.trees(["install", "app@r1", s.path + "/v1"]).status == 0)
        #expect(try s.trees(["install", "app@r2", s.path + "/v2"]).status == 0)
        for i in 0..<20 {
            let same = try inode("\(s.root)/app/r1/d\(i % 4)/f\(i)") == inode("\(s.root)/app/r2/d\(i % 4)/f\(i)")
            #expect(same == (i != 3), "file \(i)")
        }
        let r2 = try row(s, "r2")
        #expect(r2["own_bytes"] as? Int == 100 && r2["shared_bytes"] as? Int == 1900, "\(r2)")
        #expect(try row(s, "r1")["own_bytes"] as? Int == 100)
        #expect(try s.trees(["verify", "app@r2"]).status == 0)
    }

    @Test func noDedupSharesNothing() throws {
        let s = try Scratch()
        try twoRevisions(s)
        #expect(try s.trees(["install", "app@r1", s.path + "/v1"]).status == 0)
        #expect(try s.trees(["install", "app@r2", s.path + "/v2", "--no-dedup"]).status == 0)
        for i in 0..<20 {
            #expect(try inode("\(s.root)/app/r1/d\(i % 4)/f\(i)") != inode("\(s.root)/app/r2/d\(i % 4)/f\(i)"), "file \(i)")
        }
        let r2 = try row(s, "r2")
        #expect(r2["own_bytes"] as? Int == 2000 && r2["shared_bytes"] as? Int == 0, "\(r2)")
    }

    /// Hard links share mode: a file whose mode differs is copied, never linked.
    @Test func aFileWithAnotherModeIsNotShared() throws {
        let s = try Scratch()
        try twoRevisions(s, changed: [])
        #expect(chmod(s.path + "/v2/d1/f5", 0o755) == 0)
        #expect(try s.trees(["install", "app@r1", s.path + "/v1"]).status == 0)
        #expect(try s.trees(["install", "app@r2", s.path + "/v2"]).status == 0)
        #expect(try inode("\(s.root)/app/r1/d1/f5") != inode("\(s.root)/app/r2/d1/f5"))
        #expect(try inode("\(s.root)/app/r1/d1/f1") == inode("\(s.root)/app/r2/d1/f1"))
        #expect(try s.trees(["verify", "app@r1"]).status == 0 && s.trees(["verify", "app@r2"]).status == 0)
    }

    /// gc of r1 frees only what r2 does not hold, says so, and r2 stays whole.
    @Test func gcFreesOnlyTheOwnBytesOfTheTreeItDeletes() throws {
        let s = try Scratch()
        try twoRevisions(s)
        #expect(try s.trees(["install", "app@r1", s.path + "/v1"]).status == 0)
        #expect(try s.trees(["install", "app@r2", s.path + "/v2", "--activate"]).status == 0)
        let r = try s.trees(["gc", "--min-age", "0", "--keep", "0", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let outcome = try json(r.stdout) as! [[String: Any]]
        let r1 = try #require(outcome.first { $0["rev"] as? String == "r1" })
        #expect(r1["action"] as? String == "deleted" && r1["bytes_freed"] as? Int == 100, "\(r.stdout)")
        #expect(try s.trees(["verify", "app@r2"]).status == 0)
        let r2 = try row(s, "r2")
        #expect(r2["own_bytes"] as? Int == 2000 && r2["shared_bytes"] as? Int == 0, "\(r2)")
    }

    /// A shared inode is one file: changing it through one tree changes
    /// both, and verify says so for both (the man page documents this).
    @Test func verifyReportsBothTreesWhenASharedFileIsChanged() throws {
        let s = try Scratch()
        try twoRevisions(s)
        #expect(try s.trees(["install", "app@r1", s.path + "/v1"]).status == 0)
        #expect(try s.trees(["install", "app@r2", s.path + "/v2"]).status == 0)
        #expect(chmod("\(s.root)/app/r2/d1/f5", 0o777) == 0)
        for rev in ["r1", "r2"] {
            let v = try s.trees(["verify", "app@\(rev)"])
            #expect(v.status != 0 && (v.stdout + v.stderr).contains("d1/f5"), "\(rev): \(v.stdout)\(v.stderr)")
        }
    }

    /// How root can change an installed file in place (the 0444 mode does not
    /// stop it) with the same size, and hide it from a stat: nothing, the
    /// mtime put back with `touch -d`, or the mode changed and put back too.
    static let tamperings: [String] = ["in-place", "mtime-restored", "mode-restored"]

    /// Issue 14: a file of r1 rewritten in place no longer holds what r1's
    /// manifest says. An install of r2 from a clean source whose file equals
    /// r1's original content must not link to that inode: r2 gets exactly its
    /// source (and the changed file of r1 stays changed, for verify to report).
    @Test(arguments: tamperings) func anInstallNeverLinksToAChangedInode(tampering: String) throws {
        let s = try Scratch()
        try twoRevisions(s, changed: [])
        #expect(try s.trees(["install", "app@r1", s.path + "/v1"]).status == 0)
        let victim = "\(s.root)/app/r1/d1/f5"
        let original = try String(contentsOfFile: victim, encoding: .utf8)
        let forged = String(repeating: "!", count: original.utf8.count - 1) + "\n"
        let stamp = try run("/usr/bin/stat", ["-c", "%y", victim]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        if tampering == "mode-restored" { #expect(chmod(victim, 0o644) == 0) }
        // Root writes through the 0444 mode; O_TRUNC-less, so the inode stays.
        let fd = open(victim, O_WRONLY)
        #expect(fd >= 0)
        _ = forged.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        if tampering == "mode-restored" { #expect(chmod(victim, 0o444) == 0) }
        if tampering != "in-place" { #expect(try run("/usr/bin/touch", ["-d", stamp, victim]).status == 0) }
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == forged)

        let r = try s.trees(["install", "app@r2", s.path + "/v2"])
        #expect(r.status == 0, "\(r.stderr)")
        let installed = "\(s.root)/app/r2/d1/f5"
        #expect(try String(contentsOfFile: installed, encoding: .utf8) == original, "r2 holds content its source never had")
        #expect(try inode(installed) != inode(victim))
        let v = try s.trees(["verify", "app@r2"])
        #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
        // Intact files are still shared.
        #expect(try inode("\(s.root)/app/r1/d1/f1") == inode("\(s.root)/app/r2/d1/f1"))
        #expect(try s.trees(["verify", "app@r1"]).status == 65)
    }

    /// A job holding a shared file open keeps the tree it reached it through:
    /// the scan attributes an open file by the path the kernel spells for
    /// it, so the file of r1 shared with r2 keeps r1 (and not r2) when opened
    /// through r1, and the inode outlives whichever tree goes.
    @Test func aJobHoldingASharedFileKeepsTheTreeItReachedItThrough() throws {
        let s = try Scratch()
        try twoRevisions(s)
        #expect(try s.trees(["install", "app@r1", s.path + "/v1"]).status == 0)
        #expect(try s.trees(["install", "app@r2", s.path + "/v2"]).status == 0)
        #expect(try s.trees(["install", "app@r3", s.path + "/v2", "--no-dedup", "--activate"]).status == 0)
        let shared = "\(s.root)/app/r1/d1/f5"
        #expect(try inode(shared) == inode("\(s.root)/app/r2/d1/f5"))
        let job = try Background("/bin/sh", ["-c", "exec 3< '\(shared)'; exec /bin/sleep 30"])
        defer { job.stop() }
        #expect(eventually { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(job.pid)/fd/3")) == shared })
        let r = try s.trees(["gc", "--min-age", "0", "--keep", "0", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(revsOnDisk(s) == ["r1", "r3"], "\(r.stdout)")
        #expect(try s.trees(["verify", "app@r1"]).status == 0)
    }
}
