import Foundation
import Testing
import TreesCore

// Jobs that reach their tree by another path than `ROOT/NAME/REV` as spelled
// by the operator: gc must keep the tree all the same (DESIGN.md invariant 3).

/// Whether this host lets the tests bind-mount (root, and mount(8) works).
let canBindMount: Bool = {
    guard geteuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/mount") else { return false }
    guard let probe = try? Scratch() else { return false }
    try? FileManager.default.createDirectory(atPath: probe.path + "/a", withIntermediateDirectories: true)
    try? FileManager.default.createDirectory(atPath: probe.path + "/b", withIntermediateDirectories: true)
    guard (try? run("/usr/bin/mount", ["--bind", probe.path + "/a", probe.path + "/b"]))?.status == 0 else { return false }
    _ = try? run("/usr/bin/umount", [probe.path + "/b"])
    return true
}()

/// Whether `unshare -m` (a new mount namespace) works here, as for a container.
let canUnshareMounts: Bool = {
    guard canBindMount, FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") else { return false }
    return (try? run("/usr/bin/unshare", ["-m", "/bin/true"]))?.status == 0
}()

let evidencePython = "/usr/bin/python3"
private let hasPython = FileManager.default.isExecutableFile(atPath: evidencePython)
let hasCgroups = geteuid() == 0 && Cgroup.find() != nil

/// A bind mount undone (lazily, in case a job still sits in it) when the test ends.
final class BindMount {
    let target: String
    init(_ source: String, at target: String) throws {
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory)
        if isDirectory.boolValue {
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        } else {
            // A file is bind-mounted onto a file.
            FileManager.default.createFile(atPath: target, contents: nil)
        }
        let r = try run("/usr/bin/mount", ["--bind", source, target])
        guard r.status == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: ["reason": r.stderr]) }
        self.target = target
    }
    deinit { _ = try? run("/usr/bin/umount", ["-l", target]) }
}

/// Installs app@r1 (with an executable of its own and a script) and app@r2, current.
func installTwo(_ s: Scratch) throws {
    let sleeper = try Data(contentsOf: URL(fileURLWithPath: "/bin/sleep"))
    for rev in ["r1", "r2"] {
        try s.write("src-\(rev)/lib/f0.txt", "\(rev) 0\n")
        try s.write("src-\(rev)/lib/f1.txt", "\(rev) 1\n")
        try s.write("src-\(rev)/job.py", "import time\ntime.sleep(30)\n")
        try s.write("src-\(rev)/bin/sleeper", "", executable: true)
        try sleeper.write(to: URL(fileURLWithPath: s.path + "/src-\(rev)/bin/sleeper"))
        let r = try s.trees(["install", "app@\(rev)", s.path + "/src-\(rev)"] + (rev == "r2" ? ["--activate"] : []))
        #expect(r.status == 0, "\(r.stderr)")
    }
}

/// One job of each kind that uses the tree reached at `tree` (any spelling).
func jobsUsing(_ tree: String) throws -> [(String, Background)] {
    var jobs: [(String, Background)] = []
    jobs.append(("cwd", try Background("/bin/sh", ["-c", "exec /bin/sleep 30"], cwd: tree)))
    jobs.append(("fd", try Background("/bin/sh", ["-c", "exec 7< lib/f0.txt; cd /; exec /bin/sleep 30"], cwd: tree)))
    jobs.append(("exe", try Background(tree + "/bin/sleeper", ["30"], cwd: "/")))
    if hasPython {
        jobs.append(("cmdline", try Background(evidencePython, [tree + "/job.py"], cwd: "/")))
        jobs.append(("maps", try mappingJob(evidencePython, in: tree)))
    }
    return jobs
}

/// Waits until `ps` shows every job on app@r1 with its kind of evidence.
func expectFound(_ s: Scratch, _ jobs: [(String, Background)], sourceLocation: SourceLocation = #_sourceLocation) throws {
    var found: [String: Set<String>] = [:]
    _ = try eventually {
        found = try psEvidence(s)
        return jobs.allSatisfy { found["\($0.1.pid) app@r1"]?.contains($0.0) == true }
    }
    for (kind, job) in jobs {
        #expect(found["\(job.pid) app@r1"]?.contains(kind) == true,
                "\(kind) job \(job.pid): \(found["\(job.pid) app@r1"] ?? [])", sourceLocation: sourceLocation)
    }
}

/// Runs `gc --min-age 0 --keep 0` and returns r1's action and reason.
func gcR1(_ s: Scratch) throws -> (action: String, reason: String) {
    let r = try s.trees(["gc", "--min-age", "0", "--keep", "0", "--json"])
    let rows = (try? json(r.stdout) as? [[String: Any]]) ?? []
    let r1 = rows.first { $0["rev"] as? String == "r1" }
    return (r1?["action"] as? String ?? "missing: \(r.stderr)", r1?["reason"] as? String ?? "")
}

/// The common end: gc keeps r1 while the jobs run and deletes it once they are gone.
func expectKeptThenDeleted(_ s: Scratch, _ jobs: [(String, Background)], cleanup: () -> Void = {},
                                   sourceLocation: SourceLocation = #_sourceLocation) throws {
    let kept = try gcR1(s)
    #expect(kept.action == "kept", "\(kept)", sourceLocation: sourceLocation)
    #expect(revsOnDisk(s).contains("r1"), sourceLocation: sourceLocation)
    for (_, job) in jobs { job.stop() }
    cleanup()
    var gone = try gcR1(s)
    if gone.action == "kept" && gone.reason.contains("the kernel") {
        // `unshare -m` copies every mount: a namespace another test's job
        // made while this test's bind mount existed keeps a copy of it, and
        // so (rightly) keeps r1, until that job ends.
        _ = try eventually(60) {
            gone = try gcR1(s)
            return gone.action == "deleted"
        }
    }
    #expect(gone.action == "deleted", "\(gone)", sourceLocation: sourceLocation)
}

@Suite("evidence by identity, however the tree was reached")
struct EvidenceAttackTests {
    @Test(.enabled(if: canBindMount, "needs root and mount --bind"))
    func jobsThroughABindMountOfTheWholeRoot() throws {
        let s = try Scratch()
        try installTwo(s)
        var mount: BindMount? = try BindMount(s.root, at: s.path + "/elsewhere")
        let jobs = try jobsUsing(s.path + "/elsewhere/app/r1")
        try expectFound(s, jobs)
        try expectKeptThenDeleted(s, jobs) { mount = nil }
        _ = mount
    }

    @Test(.enabled(if: canBindMount, "needs root and mount --bind"))
    func jobsThroughABindMountOfOneTree() throws {
        let s = try Scratch()
        try installTwo(s)
        var mount: BindMount? = try BindMount(s.root + "/app/r1", at: s.path + "/srv-app")
        let jobs = try jobsUsing(s.path + "/srv-app")
        try expectFound(s, jobs)
        try expectKeptThenDeleted(s, jobs) { mount = nil }
        _ = mount
    }

    /// A directory inside a tree mounted on its own: walking `..` from the
    /// mount's root leaves the tree, so only the mount table can tell.
    @Test(.enabled(if: canBindMount, "needs root and mount --bind"))
    func jobsThroughABindMountOfADirectoryInsideATree() throws {
        let s = try Scratch()
        try installTwo(s)
        var lib: BindMount? = try BindMount(s.root + "/app/r1/lib", at: s.path + "/srv-lib")
        var bin: BindMount? = try BindMount(s.root + "/app/r1/bin", at: s.path + "/srv-bin")
        let jobs: [(String, Background)] = [
            ("cwd", try Background("/bin/sh", ["-c", "exec /bin/sleep 30"], cwd: s.path + "/srv-lib")),
            ("fd", try Background("/bin/sh", ["-c", "exec 7< f0.txt; cd /; exec /bin/sleep 30"], cwd: s.path + "/srv-lib")),
            ("exe", try Background(s.path + "/srv-bin/sleeper", ["30"], cwd: "/")),
        ]
        try expectFound(s, jobs)
        try expectKeptThenDeleted(s, jobs) { lib = nil; bin = nil }
        _ = (lib, bin)
    }

    /// One file of a tree bind-mounted onto another path (a config file or
    /// binary handed to a service): the directory holding the mount point
    /// is not in the tree at all.
    @Test(.enabled(if: canBindMount, "needs root and mount --bind"))
    func jobsThroughABindMountOfOneFile() throws {
        let s = try Scratch()
        try installTwo(s)
        var file: BindMount? = try BindMount(s.root + "/app/r1/lib/f0.txt", at: s.path + "/f0-alias.txt")
        var exe: BindMount? = try BindMount(s.root + "/app/r1/bin/sleeper", at: s.path + "/sleeper-alias")
        let jobs: [(String, Background)] = [
            ("fd", try Background("/bin/sh", ["-c", "exec 7< \(s.path)/f0-alias.txt; exec /bin/sleep 30"], cwd: "/")),
            ("exe", try Background(s.path + "/sleeper-alias", ["30"], cwd: "/")),
        ]
        try expectFound(s, jobs)
        try expectKeptThenDeleted(s, jobs) { file = nil; exe = nil }
        _ = (file, exe)
    }

    /// The same inside a container: `-v ROOT/app/r1/lib:/lib-app` exists
    /// only in the job's mount namespace.
    @Test(.enabled(if: canUnshareMounts, "needs root and unshare -m"))
    func jobsInAnotherMountNamespaceThroughADirectoryInsideATree() throws {
        let s = try Scratch()
        try installTwo(s)
        let inside = s.path + "/container-lib"
        try FileManager.default.createDirectory(atPath: inside, withIntermediateDirectories: true)
        let lib = s.root + "/app/r1/lib"
        let jobs: [(String, Background)] = [
            ("cwd", try Background("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c",
                                                        "mount --bind \(lib) \(inside) && cd \(inside) && exec /bin/sleep 30"], cwd: "/")),
            ("fd", try Background("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c",
                                                       "mount --bind \(lib) \(inside) && exec 7< \(inside)/f1.txt && exec /bin/sleep 30"], cwd: "/")),
        ]
        try expectFound(s, jobs)
        try expectKeptThenDeleted(s, jobs)
    }

    /// An absolute symlink means what it means in the job's own namespace:
    /// `LINK -> INSIDE`, where INSIDE is the tree only in the job's namespace
    /// (empty in the scanner's), and the job names `LINK/job.py`.
    @Test(.enabled(if: canUnshareMounts && hasPython, "needs root, unshare -m and python3"))
    func absoluteSymlinkResolvedInTheJobsNamespace() throws {
        let s = try Scratch()
        try installTwo(s)
        let inside = s.path + "/container-app", link = s.path + "/app-link"
        try FileManager.default.createDirectory(atPath: inside, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: inside)
        let tree = s.root + "/app/r1"
        let job = try Background("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c",
                                                      "mount --bind \(tree) \(inside) && exec \(evidencePython) \(link)/job.py"], cwd: "/")
        try expectFound(s, [("cmdline", job)])
        try expectKeptThenDeleted(s, [("cmdline", job)])
    }

    /// A process whose cwd and open directory lie deeper than `PATH_MAX`
    /// (as an install walking a deep tree does): the kernel cannot spell
    /// the path (ENAMETOOLONG). Outside every tree it must not make the
    /// process unknown (which made gc keep every tree on the host); inside
    /// one it is found by identity.
    @Test(.enabled(if: hasPython, "needs python3"), .uninspectableProcesses, arguments: [false, true])
    func processDeeperThanPathMax(insideTheTree: Bool) throws {
        let s = try Scratch()
        // 25 levels of 200-byte names: about 5,000 bytes below the start.
        let levels = 25, component = String(repeating: "d", count: 200)
        // Install refuses trees deeper than its limits, so the job makes the
        // deep directories itself (as root it may, in a read-only tree): a
        // tree on disk can still hold them, whatever made them.
        try installTwo(s)
        let start = insideTheTree ? s.root + "/app/r1" : s.path
        let ready = s.path + "/deep.ready"
        let job = try Background(evidencePython, ["-c", """
            import os, sys, time
            os.chdir(sys.argv[1])
            for _ in range(\(levels)):
                if not os.path.isdir('\(component)'):
                    os.mkdir('\(component)')
                os.chdir('\(component)')
            fd = os.open('.', os.O_RDONLY | os.O_DIRECTORY)
            open(sys.argv[2], 'w').close()
            time.sleep(30)
            """, start, ready], cwd: "/")
        #expect(eventually { FileManager.default.fileExists(atPath: ready) })
        let r = try s.trees(["ps", "--json"])
        let doc = (try? json(r.stdout) as? [String: Any]) ?? [:]
        let unknown = (doc["unknown"] as? [[String: Any]] ?? []).filter { $0["pid"] as? Int == Int(job.pid) }
        #expect(unknown.isEmpty, "\(unknown)")
        if insideTheTree {
            try expectFound(s, [("cwd", job), ("fd", job)])
            try expectKeptThenDeleted(s, [("cwd", job)])
        } else {
            let gc = try gcR1(s)
            #expect(gc.action == "deleted", "\(gc)")
            job.stop()
        }
    }

    /// The container `-v ROOT/app/r1:/app` case: the mount exists only in the
    /// job's namespace, so its paths mean nothing in the scanner's.
    @Test(.enabled(if: canUnshareMounts, "needs root and unshare -m"))
    func jobsInAnotherMountNamespace() throws {
        let s = try Scratch()
        try installTwo(s)
        let inside = s.path + "/container-app"
        try FileManager.default.createDirectory(atPath: inside, withIntermediateDirectories: true)
        let tree = s.root + "/app/r1"
        let jobs: [(String, Background)] = [
            ("cwd", try Background("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c",
                                                        "mount --bind \(tree) \(inside) && cd \(inside) && exec /bin/sleep 30"], cwd: "/")),
            ("fd", try Background("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c",
                                                       "mount --bind \(s.root) \(inside) && exec 7< \(inside)/app/r1/lib/f0.txt && exec /bin/sleep 30"], cwd: "/")),
        ]
        try expectFound(s, jobs)
        try expectKeptThenDeleted(s, jobs)
    }

    /// The operator's root is a symlink; the job spells the real path, or the
    /// other way round. Both spellings name the same directory.
    @Test(.enabled(if: hasPython, "needs python3"))
    func jobsSpellingTheRootThroughASymlink() throws {
        let s = try Scratch()
        try installTwo(s)
        let link = s.path + "/root-link"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: s.root)
        let jobs: [(String, Background)] = [
            ("cmdline", try Background(evidencePython, [link + "/app/r1/job.py"], cwd: "/")),
            ("environ", try Background("/bin/sleep", ["30"], environment: ["TREES_TREE": "app@r1", "TREES_ROOT": link], cwd: "/")),
        ]
        try expectFound(s, jobs)
        // And the operator using the link finds the job that spells the real path.
        let real = try Background("/bin/sleep", ["30"], environment: ["TREES_TREE": "app@r1", "TREES_ROOT": s.root], cwd: "/")
        #expect(try eventually {
            let r = try run(treesBinary, ["ps", "--root", link, "--json"])
            let rows = (try? json(r.stdout) as? [String: Any])?["processes"] as? [[String: Any]] ?? []
            return rows.contains { $0["pid"] as? Int == Int(real.pid) }
        })
        try expectKeptThenDeleted(s, jobs + [("environ", real)])
    }

    /// A thread that unshared its working directory and file table
    /// (`unshare(CLONE_FS|CLONE_FILES)`) while the main thread sits in `/`.
    @Test(.enabled(if: hasPython, "needs python3"), arguments: ["cwd", "fd"])
    func threadWithItsOwnDirectoryAndFiles(kind: String) throws {
        let s = try Scratch()
        try installTwo(s)
        // The tree's path is in a file, not in the job's arguments or environment.
        let target = try s.write("target.txt", s.root + "/app/r1")
        let helper = try s.write("thread_job.py", """
            import ctypes, os, sys, threading, time
            libc = ctypes.CDLL(None, use_errno=True)
            with open(sys.argv[1]) as f:
                target = f.read().strip()
            ready = threading.Event()
            def worker():
                if libc.unshare(0x200 | 0x400) != 0:
                    os._exit(3)
                if sys.argv[2] == 'cwd':
                    os.chdir(target)
                else:
                    os.open(target + '/lib/f0.txt', os.O_RDONLY)
                ready.set()
                time.sleep(30)
            threading.Thread(target=worker, daemon=True).start()
            ready.wait()
            os.chdir('/')
            open(sys.argv[1] + '.ready', 'w').close()
            time.sleep(30)
            """)
        let job = try Background(evidencePython, [helper, target, kind], cwd: "/")
        #expect(eventually { FileManager.default.fileExists(atPath: target + ".ready") })
        try expectFound(s, [(kind, job)])
        try expectKeptThenDeleted(s, [(kind, job)])
    }

    /// Two roots on one host: markers and job cgroups of the other root, or
    /// a marker naming no root, do not keep this root's tree of the same name.
    @Test func markersOfAnotherRootDoNotKeepThisRootsTree() throws {
        let s = try Scratch(), other = try Scratch()
        try installTwo(s)
        try installRevs(other, ["r1"])
        let foreign = try Background("/bin/sleep", ["30"], environment: ["TREES_TREE": "app@r1", "TREES_ROOT": other.root], cwd: "/")
        let rootless = try Background("/bin/sleep", ["30"], environment: ["TREES_TREE": "app@r1"], cwd: "/")
        // The other root sees its own job (so the job is visible at all).
        #expect(try eventually { try psEvidence(other)["\(foreign.pid) app@r1"] == ["environ"] })
        let here = try psEvidence(s)
        #expect(here["\(foreign.pid) app@r1"] == nil, "\(here)")
        #expect(here["\(rootless.pid) app@r1"] == nil, "\(here)")
        let gc = try gcR1(s)
        // When gc keeps r1, say who it thinks holds it: another test's job,
        // an unknown process, or one of this test's markers.
        let holders = gc.action == "deleted" ? "" : ((try? s.trees(["ps", "--json"]).stdout) ?? "")
        #expect(gc.action == "deleted", "\(gc); ps: \(holders)")
    }

    @Test(.enabled(if: hasCgroups, "needs a writable cgroup v2 hierarchy"))
    func jobCgroupOfAnotherRootDoesNotKeepThisRootsTree() throws {
        let parent = try #require(TestCgroupParent())
        let s = try Scratch(), other = try Scratch()
        try installTwo(s)
        try installRevs(other, ["r1"])
        // Only its cgroup ties this job to other's app@r1: no environment, cwd `/`.
        let job = try Background(treesBinary, ["exec", "--root", other.root, "app@r1", "--no-chdir", "--cgroup",
                                               "--cgroup-parent", parent.relative, "--", "/usr/bin/env", "-i", "/bin/sleep", "30"], cwd: "/")
        #expect(try eventually { try psEvidence(other)["\(job.pid) app@r1"]?.contains("cgroup") == true })
        let here = try psEvidence(s)
        #expect(here["\(job.pid) app@r1"] == nil, "\(here)")
        let gc = try gcR1(s)
        #expect(gc.action == "deleted", "\(gc)")
    }
}
