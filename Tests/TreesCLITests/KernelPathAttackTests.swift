import Foundation
import Testing
import TreesCore

// Paths into a tree that no /proc spelling shows (issue 14): a mount
// detached after the job got in, an overlay whose layer is a tree, a loop
// device or swap file backed by a tree's file, and a FUSE file whose daemon
// stopped answering. gc must keep the tree (or, for FUSE, finish in bounded
// time) however the job got there.

private let hasPython3 = FileManager.default.isExecutableFile(atPath: evidencePython)

/// Whether `losetup` can bind a loop device here (root, /dev/loop-control).
private let canLoop: Bool = {
    guard geteuid() == 0, FileManager.default.fileExists(atPath: "/dev/loop-control"),
          let probe = try? Scratch() else { return false }
    let image = probe.path + "/probe.img"
    FileManager.default.createFile(atPath: image, contents: Data(count: 1 << 20))
    guard let r = try? run("/usr/sbin/losetup", ["--find", "--show", image]), r.status == 0 else { return false }
    _ = try? run("/usr/sbin/losetup", ["-d", r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)])
    return true
}()

/// Whether `swapon` can use a file here (root, a file system that allows swap files).
private let canSwapOnAFile: Bool = {
    guard geteuid() == 0, let probe = try? Scratch() else { return false }
    let file = probe.path + "/probe.swap"
    FileManager.default.createFile(atPath: file, contents: Data(count: 1 << 20))
    chmod(file, 0o600)
    guard (try? run("/usr/sbin/mkswap", [file]))?.status == 0,
          (try? run("/usr/sbin/swapon", [file]))?.status == 0 else { return false }
    _ = try? run("/usr/sbin/swapoff", [file])
    return true
}()

/// Whether a FUSE file system can be built and mounted here (root, /dev/fuse, libfuse3).
private let stallfsBinary: String? = {
    guard geteuid() == 0, FileManager.default.fileExists(atPath: "/dev/fuse"),
          let flags = try? run("/usr/bin/pkg-config", ["--cflags", "--libs", "fuse3"]), flags.status == 0 else { return nil }
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("trees-stallfs-\(getpid())").path
    let source = fixtures.appendingPathComponent("fuse/stallfs.c").path
    let args = [source, "-o", out] + flags.stdout.split(whereSeparator: \.isWhitespace).map(String.init)
    guard (try? run("/usr/bin/cc", args))?.status == 0 else { return nil }
    return out
}()

/// Waits for `path` to exist: the job's own signal that it is in place.
private func awaitReady(_ path: String, _ job: Background, sourceLocation: SourceLocation = #_sourceLocation) {
    let ready = eventually { FileManager.default.fileExists(atPath: path) }
    #expect(ready, "job \(job.pid) never got ready", sourceLocation: sourceLocation)
}

/// `trees ps --json` rows for `app@r1` held by no process (pid 0): mounts, loops, swap.
private func kernelHolds(_ s: Scratch) throws -> [[String: Any]] {
    let r = try s.trees(["ps", "--json"])
    let rows = (try? json(r.stdout) as? [String: Any])?["processes"] as? [[String: Any]] ?? []
    return rows.filter { ($0["pid"] as? Int) == 0 && ($0["tree"] as? [String: String])?["rev"] == "r1" }
}

@Suite("evidence the kernel holds by no spelling")
struct KernelPathAttackTests {
    /// In a mount namespace of its own the job bind-mounts a tree (or a
    /// directory inside one), gets in, and detaches the mount (`umount -l`):
    /// every link in /proc now spells a path relative to the detached mount.
    @Test(.enabled(if: canUnshareMounts && hasPython3, "needs root, unshare -m and python3"),
          arguments: ["fd", "maps", "exe", "cwd", "cwd-below", "fd-below"])
    func detachedMount(kind: String) throws {
        let s = try Scratch()
        try installTwo(s)
        let mnt = s.path + "/mnt-app", ready = s.path + "/ready"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        let tree = s.root + "/app/r1"
        let detach = "umount -l \(mnt) && touch \(ready)"
        let script: String
        switch kind {
        case "fd": script = "mount --bind \(tree) \(mnt) && exec 7< \(mnt)/lib/f0.txt && \(detach) && cd / && exec /bin/sleep 30"
        case "exe": script = "mount --bind \(tree) \(mnt) && { (sleep 0.3; \(detach)) & exec \(mnt)/bin/sleeper 30; }"
        case "cwd": script = "mount --bind \(tree) \(mnt) && cd \(mnt)/lib && \(detach) && exec /bin/sleep 30"
        case "cwd-below": script = "mount --bind \(tree)/lib \(mnt) && cd \(mnt) && \(detach) && exec /bin/sleep 30"
        case "fd-below": script = "mount --bind \(tree)/lib \(mnt) && exec 7< \(mnt)/f1.txt && \(detach) && cd / && exec /bin/sleep 30"
        default: // maps: map a file, close it, detach, sit in /
            script = """
                mount --bind \(tree) \(mnt) && exec \(evidencePython) -c "
                import mmap, os, time
                f = open('\(mnt)/lib/f1.txt', 'rb')
                m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
                f.close()
                os.chdir('/')
                os.system('\(detach)')
                time.sleep(30)
                "
                """
        }
        let job = try Background("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", script], cwd: "/")
        awaitReady(ready, job)
        let evidence = kind.hasPrefix("cwd") ? "cwd" : kind.hasPrefix("fd") ? "fd" : kind
        try expectFound(s, [(evidence, job)])
        // Found by identity: nothing was placed by the spelling alone.
        let rows = (try? json(try s.trees(["ps", "--json"]).stdout) as? [String: Any])?["processes"] as? [[String: Any]] ?? []
        #expect(rows.first { $0["pid"] as? Int == Int(job.pid) }?["by_spelling"] == nil, "\(rows)")
        try expectKeptThenDeleted(s, [(evidence, job)])
    }

    /// The detached job holds a file that a later revision deduplicated
    /// (one inode, linked from r1 and r2): no spelling says which tree it
    /// came through, so every tree that links it is kept.
    @Test(.enabled(if: canUnshareMounts, "needs root and unshare -m"))
    func detachedMountOfADeduplicatedFileKeepsEveryTreeThatLinksIt() throws {
        let s = try Scratch()
        for rev in ["r1", "r2", "r3"] {
            try s.write("src-\(rev)/lib/shared.txt", "the same in r1 and r2\n")
            try s.write("src-\(rev)/rev.txt", rev + "\n")
            if rev == "r3" { try s.write("src-\(rev)/lib/shared.txt", "changed in r3\n") }
            #expect(try s.trees(["install", "app@\(rev)", s.path + "/src-\(rev)"] + (rev == "r3" ? ["--activate"] : [])).status == 0)
        }
        var a = stat(), b = stat()
        #expect(stat(s.root + "/app/r1/lib/shared.txt", &a) == 0 && stat(s.root + "/app/r2/lib/shared.txt", &b) == 0)
        #expect(a.st_ino == b.st_ino, "r2's file should be a hard link to r1's")
        let mnt = s.path + "/mnt-app", ready = s.path + "/ready"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        let job = try Background("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c",
            "mount --bind \(s.root)/app/r1 \(mnt) && exec 7< \(mnt)/lib/shared.txt && umount -l \(mnt) && touch \(ready) && cd / && exec /bin/sleep 30"], cwd: "/")
        awaitReady(ready, job)
        let kept = try json(try s.trees(["gc", "--min-age", "0", "--keep", "0", "--json"]).stdout) as? [[String: Any]] ?? []
        for rev in ["r1", "r2"] {
            #expect(kept.first { $0["rev"] as? String == rev }?["action"] as? String == "kept", "\(kept)")
        }
        job.stop()
        let gone = try json(try s.trees(["gc", "--min-age", "0", "--keep", "0", "--json"]).stdout) as? [[String: Any]] ?? []
        for rev in ["r1", "r2"] {
            #expect(gone.first { $0["rev"] as? String == rev }?["action"] as? String == "deleted", "\(gone)")
        }
    }

    /// An overlay whose lower layer is a tree: the job runs `merged/bin/x`,
    /// and only the mount table names the tree (in its options).
    @Test(.enabled(if: canUnshareMounts, "needs root and unshare -m"))
    func overlayWithATreeAsItsLowerLayer() throws {
        let s = try Scratch()
        try installTwo(s)
        for dir in ["upper", "work", "merged"] {
            try FileManager.default.createDirectory(atPath: s.path + "/ov/" + dir, withIntermediateDirectories: true)
        }
        let ov = s.path + "/ov", ready = s.path + "/ready"
        let job = try Background("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c",
            "mount -t overlay overlay -o lowerdir=\(s.root)/app/r1,upperdir=\(ov)/upper,workdir=\(ov)/work \(ov)/merged && touch \(ready) && cd / && exec \(ov)/merged/bin/sleeper 30"], cwd: "/")
        awaitReady(ready, job)
        #expect(try eventually { try kernelHolds(s).contains { ($0["evidence"] as? [String])?.contains("mount") == true } },
                "ps: \((try? s.trees(["ps"]).stdout) ?? "")")
        try expectKeptThenDeleted(s, []) { job.stop() }
    }

    /// A bind mount of a tree that no process sits in still keeps it: the
    /// kernel holds the tree for whoever enters the mount next.
    @Test(.enabled(if: canBindMount, "needs root and mount --bind"))
    func bindMountWithNoProcessInIt() throws {
        let s = try Scratch()
        try installTwo(s)
        var mount: BindMount? = try BindMount(s.root + "/app/r1/lib", at: s.path + "/idle-lib")
        let holds = try kernelHolds(s)
        #expect(holds.contains { ($0["evidence"] as? [String]) == ["mount"] }, "\(holds)")
        try expectKeptThenDeleted(s, []) { mount = nil }
        _ = mount
    }

    /// A tree ships a disk image; the job loop-binds it. The loop device
    /// holds the file with no process in the tree and no mount of it.
    @Test(.enabled(if: canLoop, "needs root and loop devices"))
    func loopDeviceBackedByAFileOfATree() throws {
        let s = try Scratch()
        let image = s.path + "/src-r1/data.img"
        try FileManager.default.createDirectory(atPath: s.path + "/src-r1", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: image, contents: Data(repeating: 7, count: 2 << 20))
        #expect(try s.trees(["install", "app@r1", s.path + "/src-r1"]).status == 0)
        try s.write("src-r2/x", "r2\n")
        #expect(try s.trees(["install", "app@r2", s.path + "/src-r2", "--activate"]).status == 0)
        let bound = try run("/usr/sbin/losetup", ["--find", "--show", "--read-only", s.root + "/app/r1/data.img"])
        #expect(bound.status == 0, "\(bound.stderr)")
        let device = bound.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        var detached = false
        defer { if !detached { _ = try? run("/usr/sbin/losetup", ["-d", device]) } }
        let holds = try kernelHolds(s)
        #expect(holds.contains { ($0["evidence"] as? [String]) == ["loop"] && ($0["command"] as? String ?? "").contains(device) },
                "\(holds)")
        let kept = try gcR1(s)
        #expect(kept.action == "kept", "\(kept)")
        _ = try run("/usr/sbin/losetup", ["-d", device])
        detached = true
        // The kernel lets go of the file once nothing has the device open
        // (udev may probe it a moment longer): until then keeping r1 is right.
        let backing = "/sys/block/" + URL(fileURLWithPath: device).lastPathComponent + "/loop/backing_file"
        #expect(eventually { !FileManager.default.fileExists(atPath: backing) })
        let gone = try gcR1(s)
        #expect(gone.action == "deleted", "\(gone)")
    }

    /// A tree ships a swap file and root turns it on: the kernel holds it
    /// with no process, mount or loop device showing it.
    @Test(.enabled(if: canSwapOnAFile, "needs root and swap files"))
    func swapFileInATree() throws {
        let s = try Scratch()
        let file = s.path + "/src-r1/swap.img"
        try FileManager.default.createDirectory(atPath: s.path + "/src-r1", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: file, contents: Data(count: 1 << 20))
        #expect(try run("/usr/sbin/mkswap", [file]).status == 0)
        #expect(try s.trees(["install", "app@r1", s.path + "/src-r1", "--no-dedup"]).status == 0)
        try s.write("src-r2/x", "r2\n")
        #expect(try s.trees(["install", "app@r2", s.path + "/src-r2", "--activate"]).status == 0)
        let swap = s.root + "/app/r1/swap.img"
        let on = try run("/usr/sbin/swapon", [swap])
        #expect(on.status == 0, "\(on.stderr)")
        var off = false
        defer { if !off { _ = try? run("/usr/sbin/swapoff", [swap]) } }
        let holds = try kernelHolds(s)
        #expect(holds.contains { ($0["evidence"] as? [String]) == ["swap"] }, "\(holds)")
        let kept = try gcR1(s)
        #expect(kept.action == "kept", "\(kept)")
        #expect(try run("/usr/sbin/swapoff", [swap]).status == 0)
        off = true
        let gone = try gcR1(s)
        #expect(gone.action == "deleted", "\(gone)")
    }

    /// A job holds a FUSE file open whose daemon then stops answering: the
    /// scan must not touch that mount, and gc and ps must finish in seconds.
    @Test(.enabled(if: stallfsBinary != nil && hasPython3, "needs root, /dev/fuse, libfuse3 and python3"),
          .uninspectableProcesses)
    func stalledFUSEFileDoesNotHangTheScan() throws {
        let s = try Scratch()
        try installTwo(s)
        let mnt = s.path + "/fuse"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        let daemon = try Background(try #require(stallfsBinary), ["-f", mnt], cwd: "/")
        var jobs: [Background] = []
        // The daemon answers again before anything is stopped: a process
        // blocked on a request the stopped daemon had read cannot even be
        // killed until it is answered.
        defer {
            kill(daemon.pid, SIGCONT)
            for job in jobs { job.stop() }
            _ = try? run("/usr/bin/umount", ["-l", mnt])
            daemon.stop()
        }
        guard eventually(20, { (try? String(contentsOfFile: mnt + "/file", encoding: .utf8))?.hasPrefix("hello") == true }) else {
            Issue.record("stallfs did not come up")
            return
        }
        // The job names the FUSE file in its arguments and holds it open,
        // its cwd is on the FUSE mount, and it maps nothing from a tree. It
        // says when it is done touching the mount; only then is the daemon stopped.
        let ready = s.path + "/job.ready"
        jobs.append(try Background("/bin/sh", ["-c", "exec 7< \(mnt)/file; cd \(mnt); exec \(evidencePython) -c 'import sys, time; open(sys.argv[2], \"w\").close(); time.sleep(60)' \(mnt)/file \(ready)"], cwd: "/"))
        guard eventually(20, { FileManager.default.fileExists(atPath: ready) }) else {
            Issue.record("the job never got ready")
            return
        }
        kill(daemon.pid, SIGSTOP)
        for args in [["ps", "--json"], ["gc", "--min-age", "0", "--keep", "0", "--json"]] {
            let start = Date()
            let r = try s.trees(args)
            let seconds = Date().timeIntervalSince(start)
            #expect(seconds < 5, "\(args[0]) took \(seconds) s")
            #expect(r.status == 0, "\(args[0]): \(r.status) \(r.stderr)")
        }
        #expect(!revsOnDisk(s).contains("r1"), "r1 has no job and should be collected")
        // A second job names the file through a symlink on the root's own
        // file system: resolving its argument walks into the stalled mount.
        // Only the scan's deadline bounds that: the job is reported unknown.
        let link = s.path + "/to-fuse"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: mnt)
        let linked = try Background(evidencePython, ["-c", "import time; time.sleep(60)", link + "/file"], cwd: "/")
        jobs.append(linked)
        let start = Date()
        let r = try s.trees(["ps", "--json"])
        let seconds = Date().timeIntervalSince(start)
        #expect(seconds < 5, "ps took \(seconds) s")
        let unknown = (try? json(r.stdout) as? [String: Any])?["unknown"] as? [[String: Any]] ?? []
        let row = unknown.first { $0["pid"] as? Int == Int(linked.pid) }
        #expect((row?["reason"] as? String)?.contains("not judged within") == true, "\(r.stdout)")
    }
}
