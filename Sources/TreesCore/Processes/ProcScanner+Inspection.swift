#if canImport(Glibc)
import Glibc
#endif

// MARK: - One process

/// What one pid directory showed: evidence, a reason it is unknown, both or neither.
struct ProcInspection {
    var evidence: ProcessEvidence?
    var unknown: UnknownProcess?

    /// Gone, a kernel thread, or unrelated to any tree.
    static let skipped = ProcInspection()
}

/// Ends an inspection: the process exited while we looked.
private struct ProcessGone: Error {}

/// One process's findings so far.
private struct ProcessFindings {
    var trees: [TreeRef: Set<EvidenceKind>] = [:]
    /// What could not be read, and why: any entry makes the process unknown.
    var failures: [(file: String, problem: String)] = []

    mutating func add(_ ref: TreeRef?, _ kind: EvidenceKind) {
        if let ref { trees[ref, default: []].insert(kind) }
    }

    /// Runs one read. A process that is gone ends the inspection; any other
    /// failure is kept (it makes the process unknown) and yields nil.
    mutating func attempt<T>(_ body: () throws(ProcFileError) -> T) throws(ProcessGone) -> T? {
        do throws(ProcFileError) {
            return try body()
        } catch {
            if error.meansGone { throw ProcessGone() }
            record(error)
            return nil
        }
    }

    mutating func record(_ error: ProcFileError) {
        failures.append((error.file, error.problem))
    }

    /// `exe, cwd, fd: Permission denied; maps: Input/output error`. Every
    /// `fd/N` counts as `fd`: a denied process has hundreds of them.
    var reason: String {
        var problems: [String] = []
        var files: [String: [String]] = [:]
        for failure in failures {
            let file = failure.file.hasPrefix("fd/") ? "fd" : failure.file
            if files[failure.problem] == nil { problems.append(failure.problem) }
            if files[failure.problem]?.contains(file) != true { files[failure.problem, default: []].append(file) }
        }
        return problems.map { (files[$0] ?? []).joined(separator: ", ") + ": " + $0 }.joined(separator: "; ")
    }

    func result(pid: Int32, stat: ProcStat?, uid: () -> UInt32?, cmdline: [UInt8]) -> ProcInspection {
        guard !trees.isEmpty || !failures.isEmpty else { return .skipped }
        let command = ProcCommandLine.display(cmdline, comm: stat?.comm)
        var result = ProcInspection()
        if let stat, !trees.isEmpty {
            result.evidence = ProcessEvidence(pid: pid, startTime: stat.startTime, uid: uid(), command: command, trees: trees)
        }
        if !failures.isEmpty {
            result.unknown = UnknownProcess(pid: pid, command: command, reason: reason)
        }
        return result
    }
}

extension ProcScanner {
    /// Collects the evidence of one process. All reads go through one open
    /// pid directory, so a pid reused mid-scan reads as gone, not as a mix.
    func inspect(_ pid: Int32, reader: any ProcReader, matcher: inout ProcPathMatcher) -> ProcInspection {
        var found = ProcessFindings()
        do throws(ProcessGone) {
            guard let process = try found.attempt({ () throws(ProcFileError) in try reader.process(pid) }) else {
                return found.result(pid: pid, stat: nil, uid: { nil }, cmdline: [])
            }
            guard let statBytes = try found.attempt({ () throws(ProcFileError) in try process.read("stat") }) else {
                return found.result(pid: pid, stat: nil, uid: { nil }, cmdline: [])
            }
            guard let stat = ProcStat(statBytes[...]) else {
                found.failures.append(("stat", "cannot parse"))
                return found.result(pid: pid, stat: nil, uid: { nil }, cmdline: [])
            }
            // Read from stat, which anyone may read: a non-root scan gets
            // EACCES on a kernel thread's exe, and that must not make it unknown.
            if stat.isKernelThread { return .skipped }
            let uid = { () -> UInt32? in (try? process.read("status")).flatMap(ProcCommandLine.realUID(status:)) }
            var cmdline = try found.attempt({ () throws(ProcFileError) in try process.read("cmdline") }) ?? []
            var files = process
            var exe: [UInt8]?
            do throws(ProcFileError) {
                exe = try process.readLink("exe")
            } catch {
                if !error.meansGone {
                    found.record(error)
                } else {
                    // No exe and no arguments: a kernel thread, or a process
                    // that is exiting. Unless its main thread exited while
                    // others still run: their code and files live on, reachable
                    // through task/.
                    guard error.errno == ENOENT, cmdline.isEmpty, stat.threads > 1 else { return .skipped }
                    guard let thread = try liveThread(of: pid, in: process, found: &found) else {
                        return found.result(pid: pid, stat: stat, uid: uid, cmdline: cmdline)
                    }
                    files = thread
                    cmdline = try found.attempt({ () throws(ProcFileError) in try thread.read("cmdline") }) ?? []
                    exe = try found.attempt({ () throws(ProcFileError) in try thread.readLink("exe") })
                }
            }
            try inspectLinks(files, exe: exe, cmdline: cmdline, found: &found, matcher: &matcher)
            return found.result(pid: pid, stat: stat, uid: uid, cmdline: cmdline)
        } catch {
            return .skipped
        }
    }

    /// Everything after exe: cwd, root, fd, maps, environ, the arguments and the cgroup.
    private func inspectLinks(_ files: any ProcessFiles, exe: [UInt8]?, cmdline: [UInt8],
                              found: inout ProcessFindings, matcher: inout ProcPathMatcher) throws(ProcessGone) {
        if let exe { found.add(matcher.tree(ofKernelPath: exe[...]), .exe) }
        for (link, kind) in [("cwd", EvidenceKind.cwd), ("root", .root)] {
            if let target = try found.attempt({ () throws(ProcFileError) in try files.readLink(link) }) {
                found.add(matcher.tree(ofKernelPath: target[...]), kind)
            }
        }
        if let fds = try found.attempt({ () throws(ProcFileError) in try files.list("fd") }) {
            for fd in fds where !fd.isEmpty && fd.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
                do throws(ProcFileError) {
                    found.add(matcher.tree(ofKernelPath: try files.readLink("fd/" + fd)[...]), .fd)
                } catch {
                    // ENOENT here only means this descriptor was closed since the listing.
                    if error.errno == ESRCH { throw ProcessGone() }
                    if error.errno != ENOENT { found.record(error) }
                }
            }
        }
        if let maps = try found.attempt({ () throws(ProcFileError) in try files.read("maps") }) {
            ProcMaps.forEachPath(in: maps) { found.add(matcher.tree(ofKernelPath: $0), .maps) }
        }
        if let environ = try found.attempt({ () throws(ProcFileError) in try files.read("environ") }) {
            for ref in matcher.trees(inEnvironment: environ) { found.add(ref, .environ) }
        }
        for ref in matcher.trees(inText: cmdline[...]) { found.add(ref, .cmdline) }
        // A job cgroup (`trees exec --cgroup`) holds every descendant of the
        // job, whatever it did to its environment and directory. The name
        // is not tied to this root: see `Cgroup.tree(inProcCgroup:)`.
        do throws(ProcFileError) {
            found.add(Cgroup.tree(inProcCgroup: try files.read("cgroup")), .cgroup)
        } catch {
            if error.errno == ESRCH { throw ProcessGone() }
            // ENOENT: a kernel without cgroups, or a fixture without the file.
            if error.errno != ENOENT { found.record(error) }
        }
    }

    /// Another thread of `pid` to read through, when the main thread is gone.
    private func liveThread(of pid: Int32, in process: any ProcessFiles,
                            found: inout ProcessFindings) throws(ProcessGone) -> (any ProcessFiles)? {
        guard let tids = try found.attempt({ () throws(ProcFileError) in try process.list("task") }) else { return nil }
        for tid in tids where tid != String(pid) {
            do throws(ProcFileError) {
                return try process.subdirectory("task/" + tid)
            } catch {
                if !error.meansGone { found.record(error) }
            }
        }
        return nil
    }
}
