import Foundation
import Testing

/// The database and its write-ahead log belong to the operator alone
/// (trees(1), WHO MAY DO WHAT). Issue 14's attack: any local user opened
/// `state.db` read-only and held a read transaction while root ran 300
/// `trees exec`; no checkpoint can pass a reader's snapshot, and the WAL
/// grew from 107 KB to 3.9 MB, past its 256 KiB bound, for as long as the
/// reader stayed.
@Suite("the operator's files are the operator's", .serialized, .uninspectableProcesses)
struct OperatorFilesTests {
    /// Who tries: a user with no part in the root, and a job user (in the
    /// group of `.trees`, which may open the lease locks and nothing more).
    enum Attacker: String, CaseIterable {
        case outsider, jobUser
    }

    /// A reader as the attacker wrote it: opens the database read-only,
    /// holds `BEGIN` with a read done (so it has a snapshot) and waits.
    /// Writes what happened to `report`.
    static let reader = """
        import sqlite3, sys, time
        db, report = sys.argv[1], sys.argv[2]
        try:
            c = sqlite3.connect('file:' + db + '?mode=ro', uri=True, isolation_level=None)
            c.execute('BEGIN')
            c.execute('SELECT COUNT(*) FROM trees').fetchall()
        except Exception as e:
            open(report, 'w').write('refused: %s\\n' % e)
            sys.exit(3)
        open(report, 'w').write('holding\\n')
        time.sleep(120)
        """

    func mode(_ path: String) -> mode_t? {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mode & 0o7777 : nil
    }

    func size(_ path: String) -> Int64 {
        var st = stat()
        return lstat(path, &st) == 0 ? Int64(st.st_size) : 0
    }

    /// Starts the reader as `user` and returns it with what it reported.
    func holdReadTransaction(_ s: Scratch, as user: TestUser) throws -> (Background, String) {
        let marks = s.path + "/marks"
        mkdir(marks, 0o777)
        chmod(marks, 0o777)
        let report = marks + "/reader-\(user.name)"
        let reader = try user.background("/usr/bin/python3", ["-c", Self.reader, s.root + "/.trees/state.db", report])
        var said = ""
        _ = eventually(15) {
            said = (try? String(contentsOfFile: report, encoding: .utf8)) ?? ""
            return !said.isEmpty
        }
        return (reader, said)
    }

    @Test(.enabled(if: canMakeUsers && Facility.hasPython3, "needs root, useradd, setpriv and python3"),
          arguments: Attacker.allCases)
    func anotherUserCannotHoldTheDatabaseOpenAndGrowItsLog(_ attacker: Attacker) throws {
        let s = try Scratch()
        try installRevs(s, ["r1", "r2"])
        let group = try TestGroup()
        let user = attacker == .jobUser ? try TestUser(in: group) : try TestUser()
        try grantHolders(s, group)
        let db = s.root + "/.trees/state.db"

        let (reader, said) = try holdReadTransaction(s, as: user)
        defer { reader.stop() }
        #expect(said.hasPrefix("refused"), "\(attacker) opened the database and holds a read transaction: \(said)")

        // The operator's jobs go on; the log stays within its bound.
        var largest: Int64 = 0
        for _ in 0..<300 {
            let r = try s.trees(["exec", "app@r1", "--no-chdir", "--", "/bin/true"])
            #expect(r.status == 0, "\(r.stderr)")
            largest = max(largest, size(db + "-wal"))
        }
        #expect(largest <= 320 * 1024, "the WAL reached \(largest) bytes with \(attacker) reading")
        for suffix in ["", "-wal", "-shm"] {
            #expect(mode(db + suffix) == 0o600, "state.db\(suffix) is \(String(mode(db + suffix) ?? 0, radix: 8))")
        }
        // A job user still holds its tree by the lease lock alone.
        if attacker == .jobUser {
            let job = try user.background(treesBinaryForAnyUser, ["exec", "--root", s.root, "app@r1", "--no-chdir", "--",
                                                        "/usr/bin/env", "-i", "/bin/sleep", "30"])
            #expect(try eventually { try isLocked(s.root + "/.trees/leases/app@r1.lock") })
            let gc = try s.trees(["gc", "--min-age", "0", "--keep", "0", "--json"])
            #expect(try gcReason(gc, "r1") == "in use (lease lock held)", "\(gc.stdout) \(gc.stderr)")
            job.stop()
        }
    }

    /// A root made by an older trees has `state.db` (and its -wal and -shm)
    /// mode 0644. The operator's next command that opens it for writing
    /// makes them 0600 again, as it does the lock files.
    @Test(.enabled(if: canMakeUsers && Facility.hasPython3, "needs root, useradd, setpriv and python3"),
          arguments: [["exec", "app@r1", "--", "/bin/true"], ["doctor", "--repair"], ["gc", "--dry-run"]])
    func anOlderRootIsMadePrivateByTheOperatorsNextCommand(_ command: [String]) throws {
        let s = try Scratch()
        try installRevs(s, ["r1"])
        chmod(s.path, 0o755)
        let db = s.root + "/.trees/state.db"
        for suffix in ["", "-wal", "-shm"] { chmod(db + suffix, 0o644) }
        let stranger = try TestUser()
        let r = try s.trees(command)
        #expect(r.status == 0, "\(r.stderr)")
        for suffix in ["", "-wal", "-shm"] {
            #expect(mode(db + suffix) == 0o600, "after \(command): state.db\(suffix) is \(String(mode(db + suffix) ?? 0, radix: 8))")
        }
        let (reader, said) = try holdReadTransaction(s, as: stranger)
        defer { reader.stop() }
        #expect(said.hasPrefix("refused"), "after \(command): \(said)")
    }
}
