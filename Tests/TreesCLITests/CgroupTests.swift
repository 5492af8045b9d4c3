import Foundation
import Testing
import TreesCore

/// A cgroup of the test's own under the cgroup v2 mount, passed to
/// `trees exec --cgroup-parent`. Cleanup kills, by pid, every process in its
/// subtree (only this test's jobs can be there), then removes the leaf
/// cgroups and itself. Nil where no writable cgroup v2 hierarchy exists.
final class TestCgroupParent {
    let mountPoint: String
    /// Relative to the mount, e.g. `/trees-test-…`.
    let relative: String
    var path: String { mountPoint + relative }

    init?() {
        guard let mount = Cgroup.find() else { return nil }
        mountPoint = mount.mountPoint
        relative = "/trees-test-\(UUID().uuidString.lowercased())"
        guard mkdir(mountPoint + relative, 0o755) == 0 else { return nil }
        // Moving a process needs write access to cgroup.procs of both ends' common ancestor.
        let own = Cgroup.ownCgroup() ?? "/"
        guard access(path + "/cgroup.procs", W_OK) == 0,
              access(mount.absolutePath(own) + "/cgroup.procs", W_OK) == 0 else {
            rmdir(path)
            return nil
        }
    }

    /// Every cgroup below (and including) this one, deepest first.
    func subtree() -> [String] {
        var found: [String] = []
        func walk(_ dir: String) {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            for entry in entries {
                var st = stat()
                let child = dir + "/" + entry
                if lstat(child, &st) == 0 && st.st_mode & S_IFMT == S_IFDIR { walk(child) }
            }
            found.append(dir)
        }
        walk(path)
        return found
    }

    /// Pids in `cgroup`'s `cgroup.procs`.
    static func pids(in cgroup: String) -> [Int32] {
        let text = (try? String(contentsOfFile: cgroup + "/cgroup.procs", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { Int32($0) }
    }

    deinit {
        _ = eventually(5) {
            var empty = true
            for cgroup in subtree() {
                for pid in TestCgroupParent.pids(in: cgroup) {
                    empty = false
                    kill(pid, SIGKILL)
                }
            }
            return empty
        }
        for cgroup in subtree() { rmdir(cgroup) }
    }
}

/// A code base name no other test uses: job cgroups name a tree by NAME@REV
/// alone, in every root, so an `app@r1` job here would hold other tests' `app@r1`.
private func uniqueName() -> String {
    "cg-" + UUID().uuidString.prefix(8).lowercased()
}

/// Installs and activates NAME@REV from a small generated source.
private func install(_ s: Scratch, _ name: String, _ rev: String) throws {
    try s.write("src-\(name)-\(rev)/lib/f.txt", "\(rev)\n")
    let r = try s.trees(["install", "\(name)@\(rev)", s.path + "/src-\(name)-\(rev)", "--activate"])
    #expect(r.status == 0, "\(r.stderr)")
}

/// `trees lease list --json`, parsed.
private func leases(_ s: Scratch) throws -> [[String: Any]] {
    try json(try s.trees(["lease", "list", "--json"]).stdout) as? [[String: Any]] ?? []
}

/// The state letter from `/proc/PID/stat`, nil when the process is gone.
private func processState(_ pid: Int32) -> Character? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let paren = text.lastIndex(of: ")") else { return nil }
    return text[paren...].dropFirst(2).first
}

@Suite("trees exec --cgroup")
struct CgroupTests {
    @Test func jobCgroupNamesParse() {
        let ref = TreeRef(name: try! TreeName("app"), rev: try! Rev("1.2-rc-3"))
        let name = Cgroup.jobName(ref, id: "0123abcd")
        #expect(name == "trees-app@1.2-rc-3-0123abcd")
        #expect(Cgroup.tree(ofJobName: name) == ref)
        #expect(Cgroup.tree(ofJobName: "trees-app@r1-42")?.rev.value == "r1")
        // Tagged with a root (16 hex digits), as `trees exec` names them now.
        let tagged = Cgroup.jobName(ref, rootTag: "00ff00ff00ff00ff", id: "0123abcd")
        #expect(tagged == "trees-00ff00ff00ff00ff-app@1.2-rc-3-0123abcd")
        #expect(Cgroup.tree(ofJobName: tagged) == ref)
        for bad in ["trees-app@r1", "trees-app@r1-", "trees-App@r1-1", "trees-app@current-1", "trees-test-1234",
                    "trees-app@-1", "trees-@r1-1", "app@r1-1", "trees-app@r1-X"] {
            #expect(Cgroup.tree(ofJobName: bad) == nil, "\(bad)")
        }
    }

    @Test(.enabled(if: Facility.hasWritableCgroup, "needs a writable cgroup v2 hierarchy")) func descendantsWithAClearedEnvironmentAreAttributedThroughTheJobCgroup() throws {
        let parent = try #require(TestCgroupParent())
        let s = try Scratch()
        let name = uniqueName()
        try install(s, name, "r1")
        let pidFile = s.path + "/grandchild.pid"
        // The job leaves the tree and double-forks a grandchild whose
        // environment is empty: nothing but its cgroup ties it to the tree.
        let job = try Background(treesBinary, [
            "exec", "--root", s.root, "\(name)@r1", "--cgroup", "--cgroup-parent", parent.relative, "--", "/bin/sh", "-c",
            "cd /; (env -i /bin/sleep 30 </dev/null >/dev/null 2>&1 & echo $! > \(pidFile).tmp); mv \(pidFile).tmp \(pidFile); exec /bin/sleep 30",
        ])
        defer { job.stop() }
        #expect(eventually { FileManager.default.fileExists(atPath: pidFile) })
        let grandchild = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        job.extraPIDs.append(grandchild)

        // The lease records the cgroup, and both processes are in it.
        let lease = try #require(try leases(s).first)
        let cgroup = try #require(lease["cgroup"] as? String)
        // trees-TAG-NAME@REV-ID: the tag stands for this root (its device and inode).
        let tag = try #require(Root.openExisting(s.root).flatMap(Cgroup.rootTag(of:)))
        #expect(cgroup.hasPrefix(parent.relative + "/trees-\(tag)-\(name)@r1-"), "\(cgroup)")
        let leaf = parent.mountPoint + cgroup
        #expect(Set(TestCgroupParent.pids(in: leaf)) == [job.pid, grandchild])
        let environ = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(grandchild)/environ"))
        #expect(environ.isEmpty)

        #expect(try eventually { try psEvidence(s)["\(grandchild) \(name)@r1"] == ["cgroup"] },
                "\((try? s.trees(["ps"]))?.stdout ?? "")")
        let jobEvidence = try psEvidence(s)["\(job.pid) \(name)@r1"] ?? []
        #expect(jobEvidence.isSuperset(of: ["lease", "cgroup", "environ"]), "\(jobEvidence)")

        // The job exits; its lease is dead, but the grandchild still holds the tree.
        kill(job.pid, SIGKILL)
        // Not waitUntilExit: Foundation notices the exit only once the grandchild is gone too.
        #expect(eventually { processState(job.pid) == nil || processState(job.pid) == "Z" })
        #expect(try leases(s).first?["live"] as? Bool == false)
        let held = try s.trees(["wait", "\(name)@r1", "--timeout", "1"])
        #expect(held.status == 75)
        #expect(held.stderr.contains("pid \(grandchild) (cgroup)"), "\(held.stderr)")
        // gc keeps the dead lease's row while its cgroup is populated, so it can remove it later.
        #expect(try s.trees(["gc"]).status == 0)
        #expect(try leases(s).count == 1)
        #expect(FileManager.default.fileExists(atPath: leaf))

        // wait wakes as soon as the group empties.
        nonisolated(unsafe) var waited: RunResult?
        nonisolated(unsafe) let scratch = s
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            waited = try? scratch.trees(["wait", "\(name)@r1", "--timeout", "10"])
            done.signal()
        }
        usleep(500_000)
        let killed = Date()
        kill(grandchild, SIGKILL)
        job.extraPIDs = []
        #expect(done.wait(timeout: .now() + 15) == .success)
        let took = Date().timeIntervalSince(killed)
        #expect(waited?.status == 0, "\(String(describing: waited?.stderr))")
        #expect(took < 2.5, "wait took \(took)s after the last process was killed")
        #expect(try psEvidence(s).keys.filter { $0.hasSuffix("\(name)@r1") }.isEmpty)

        // The empty leaf is gone (wait removed it), and gc prunes the lease.
        #expect(eventually(2) { !FileManager.default.fileExists(atPath: leaf) })
        #expect(try s.trees(["gc"]).status == 0)
        #expect(try leases(s).isEmpty)
        withExtendedLifetime(parent) {}
    }

    @Test(.enabled(if: Facility.hasWritableCgroup, "needs a writable cgroup v2 hierarchy")) func gcRemovesTheEmptyCgroupOfAFinishedJob() throws {
        let parent = try #require(TestCgroupParent())
        let s = try Scratch()
        let name = uniqueName()
        try install(s, name, "r1")
        let r = try s.trees(["exec", name, "--cgroup", "--cgroup-parent", parent.path, "--", "/bin/sh", "-c",
                             "grep '^0::' /proc/self/cgroup"])
        #expect(r.status == 0, "\(r.stderr)")
        let cgroup = try #require(try leases(s).first?["cgroup"] as? String)
        #expect(r.stdout == "0::\(cgroup)\n")
        #expect(FileManager.default.fileExists(atPath: parent.mountPoint + cgroup))
        #expect(try s.trees(["gc"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: parent.mountPoint + cgroup))
        #expect(try leases(s).isEmpty)
        withExtendedLifetime(parent) {}
    }

    @Test(.enabled(if: Facility.hasWritableCgroup, "needs a writable cgroup v2 hierarchy"), .uninspectableProcesses)
    func aMissingOrUnwritableParentFailsWithExit1AndNoLease() throws {
        let parent = try #require(TestCgroupParent())
        let s = try Scratch()
        let name = uniqueName()
        try install(s, name, "r1")
        let marker = s.path + "/ran"
        let missing = parent.relative + "/no-such-parent"
        let r = try s.trees(["exec", name, "--cgroup", "--cgroup-parent", missing, "--", "/usr/bin/touch", marker])
        #expect(r.status == 1)
        #expect(r.stderr.contains(parent.mountPoint + missing) && r.stderr.contains("No such file or directory"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: marker))
        #expect(try leases(s).isEmpty)

        #expect(try s.trees(["exec", name, "--cgroup", "--cgroup-parent", "../escape", "--", "/bin/true"]).status == 64)
        #expect(try s.trees(["exec", name, "--cgroup-parent", parent.relative, "--", "/bin/true"]).status == 64)

        // As an unprivileged user, root's cgroup is not writable.
        if getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") {
            chmod(s.path, 0o755)
            let denied = try run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", treesBinaryForAnyUser,
                                                      "exec", "--root", s.root, name, "--cgroup", "--cgroup-parent", parent.relative,
                                                      "--", "/usr/bin/touch", marker])
            #expect(denied.status == 1)
            #expect(denied.stderr.contains("cannot create cgroup \(parent.path)/trees-") && denied.stderr.contains("-\(name)@r1-"),
                    "\(denied.stderr)")
            #expect(denied.stderr.contains("Permission denied") && denied.stderr.contains("writable cgroup v2"), "\(denied.stderr)")
            #expect(!FileManager.default.fileExists(atPath: marker))
        }
        // Where no cgroup v2 is mounted at all (in a private mount namespace, so nothing else sees it).
        if getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") {
            let none = try run("/usr/bin/unshare", ["--mount", "--propagation", "private", "/bin/sh", "-c",
                                                    "umount -l \(parent.mountPoint) || exit 99; exec \"$0\" \"$@\"", treesBinary,
                                                    "exec", "--root", s.root, name, "--cgroup", "--", "/usr/bin/touch", marker])
            if none.status != 99 {
                #expect(none.status == 1)
                #expect(none.stderr.contains("--cgroup needs a cgroup v2 hierarchy, and none is mounted"), "\(none.stderr)")
                #expect(!FileManager.default.fileExists(atPath: marker))
            }
        }
        #expect(try leases(s).isEmpty)
        #expect(parent.subtree() == [parent.path])
    }
}
