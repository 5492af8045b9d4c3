#if canImport(Glibc)
import Glibc
#endif

// MARK: - One process

/// What one pid directory showed: evidence, a reason it is unknown, both or neither.
struct ProcInspection {
    var evidence: ProcessEvidence?
    var unknown: UnknownProcess?
    /// Inodes the process holds whose tree only a search can tell.
    var pending: [(FileIdentity, EvidenceKind)] = []
    /// Mounts of trees in a mount namespace first seen with this process.
    var kernel: [KernelHold] = []
    /// Mounts that may hold a tree but could not be told (fail closed).
    var kernelUnknown: [String] = []

    /// Gone, a kernel thread, or unrelated to any tree.
    static let skipped = ProcInspection()
}

/// Ends an inspection: the process exited while we looked.
struct ProcessGone: Error {}

/// One process's findings so far.
struct ProcessFindings {
    var trees: [TreeRef: Set<EvidenceKind>] = [:]
    /// What could not be read, and why: any entry makes the process unknown.
    var failures: [(file: String, problem: String)] = []
    var pending: [(FileIdentity, EvidenceKind)] = []
    var bySpelling: [TreeRef: Set<EvidenceKind>] = [:]
    var kernel: [KernelHold] = []
    var kernelUnknown: [String] = []
    /// Whether every failure was a refusal (EACCES, EPERM).
    var onlyRefused = true

    mutating func add(_ ref: TreeRef?, _ kind: EvidenceKind) {
        if let ref { trees[ref, default: []].insert(kind) }
    }

    /// A file kind placed by its spelling alone (no identity from the kernel).
    mutating func addSpelled(_ ref: TreeRef?, _ kind: EvidenceKind) {
        guard let ref else { return }
        add(ref, kind)
        bySpelling[ref, default: []].insert(kind)
    }

    mutating func add(_ placement: Placement, _ kind: EvidenceKind) {
        switch placement {
        case .tree(let ref): add(ref, kind)
        case .search(let identity): pending.append((identity, kind))
        }
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
        if error.errno != .permissionDenied && error.errno != .notPermitted { onlyRefused = false }
    }

    /// Reads a directory link (`root`, `cwd`); one too long to spell is
    /// put aside for `addUnspellable` instead of being a failure.
    mutating func readLink(_ link: String, in files: any ProcessFiles, unspellable: inout [(String, EvidenceKind)],
                           kind: EvidenceKind) throws(ProcessGone) -> [UInt8]? {
        do throws(ProcFileError) {
            return try files.readLink(link)
        } catch {
            if error.meansGone { throw ProcessGone() }
            if error.errno == .nameTooLong {
                unspellable.append((link, kind))
            } else {
                record(error)
            }
            return nil
        }
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

    /// - Parameter privileged: whether the scan may read other users'
    ///   processes; when it may not, a process of another uid refused
    ///   throughout is marked `lacksPrivilege`.
    func result(pid: Int32, stat: ProcStat?, uid: () -> UInt32?, cmdline: [UInt8],
                privileged: Bool = true, scannerUID: uid_t = 0) -> ProcInspection {
        guard !trees.isEmpty || !failures.isEmpty || !pending.isEmpty || !kernel.isEmpty || !kernelUnknown.isEmpty else {
            return .skipped
        }
        let command = ProcCommandLine.display(cmdline, comm: stat?.comm)
        var result = ProcInspection(pending: pending, kernel: kernel, kernelUnknown: kernelUnknown)
        // A process whose only finds await the search is kept with no trees
        // yet; the scan drops it if the search places nothing.
        if let stat, !trees.isEmpty || !pending.isEmpty {
            result.evidence = ProcessEvidence(pid: pid, startTime: stat.startTime, uid: uid(), command: command, trees: trees)
            result.evidence?.bySpelling = bySpelling
        }
        if !failures.isEmpty {
            let othersRefused = !privileged && onlyRefused && uid().map { $0 != scannerUID } == true
            result.unknown = UnknownProcess(pid: pid, command: command, reason: reason, lacksPrivilege: othersRefused)
        }
        return result
    }
}

extension ProcScanner {
    /// Collects the evidence of one process. All reads go through one open
    /// pid directory, so a pid reused mid-scan reads as gone, not as a mix.
    func inspect(_ pid: Int32, reader: any ProcReader, context: ScanContext, matcher: inout ProcPathMatcher) -> ProcInspection {
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
            var usedThread: String?
            var exe: [UInt8]?
            var exeUnspellable = false
            do throws(ProcFileError) {
                exe = try process.readLink("exe")
            } catch {
                if error.errno == .nameTooLong {
                    exeUnspellable = true
                } else if !error.meansGone {
                    found.record(error)
                } else {
                    // No exe and no arguments: a kernel thread, or a process
                    // that is exiting. Unless its main thread exited while
                    // others still run: their code and files live on, reachable
                    // through task/.
                    guard error.errno == .noSuchFileOrDirectory, cmdline.isEmpty, stat.threads > 1 else { return .skipped }
                    guard let (tid, thread) = try liveThread(of: pid, in: process, found: &found) else {
                        return found.result(pid: pid, stat: stat, uid: uid, cmdline: cmdline, privileged: privileged, scannerUID: effectiveUID)
                    }
                    files = thread
                    usedThread = tid
                    cmdline = try found.attempt({ () throws(ProcFileError) in try thread.read("cmdline") }) ?? []
                    exe = try found.attempt({ () throws(ProcFileError) in try thread.readLink("exe") })
                }
            }
            try inspectLinks(files, pid: pid, exe: exe, exeUnspellable: exeUnspellable, cmdline: cmdline, context: context,
                             found: &found, matcher: &matcher)
            if stat.threads > 1 {
                inspectThreads(pid, of: process, skipping: usedThread, reader: reader, context: context,
                               found: &found, matcher: &matcher)
            }
            return found.result(pid: pid, stat: stat, uid: uid, cmdline: cmdline, privileged: privileged, scannerUID: effectiveUID)
        } catch {
            return .skipped
        }
    }

    /// Everything after exe: cwd, root, fd, maps, environ, the arguments and the cgroup.
    /// Each path is first matched by its spelling; what that misses is
    /// resolved in the process's own view and attributed by identity.
    private func inspectLinks(_ files: any ProcessFiles, pid: Int32, exe: [UInt8]?, exeUnspellable: Bool, cmdline: [UInt8],
                              context: ScanContext, found: inout ProcessFindings, matcher: inout ProcPathMatcher) throws(ProcessGone) {
        var unspellable: [(String, EvidenceKind)] = exeUnspellable ? [("exe", .exe)] : []
        let rootShown = try found.readLink("root", in: files, unspellable: &unspellable, kind: .root)
        let cwdShown = try found.readLink("cwd", in: files, unspellable: &unspellable, kind: .cwd)
        let view = context.view(of: files, pid: pid, rootShown: rootShown, cwdShown: cwdShown)
        if let view, let namespace = view.mountNamespace, context.locator?.firstSight(ofNamespace: namespace) == true {
            let mounts = view.mountHolds(matcher: &matcher)
            found.kernel += mounts.holds
            found.kernelUnknown += mounts.unknown
        }
        if exe != nil || exeUnspellable {
            addLink("exe", of: files, shown: exe, kind: .exe, view: view, found: &found, matcher: &matcher, unspellable: &unspellable)
        }
        addDirectories(files, rootShown: rootShown, cwdShown: cwdShown, view: view, found: &found, matcher: &matcher,
                       unspellable: &unspellable)
        addUnspellable(unspellable, view: view, found: &found)
        do throws(ProcFileError) {
            try addDescriptors(files, view: view, found: &found, matcher: &matcher)
        } catch {
            if error.meansGone { throw ProcessGone() }
            found.record(error)
        }
        if let maps = try found.attempt({ () throws(ProcFileError) in try files.read("maps") }) {
            ProcMaps.forEachFile(in: maps) { path, identity, range in
                guard let identity, let view else {
                    found.addSpelled(matcher.tree(ofKernelPath: path) ?? view?.tree(ofFileShown: path), .maps)
                    return
                }
                // A mapping's line gives its inode but not its link count;
                // for a file deleted under that name `map_files/` (root) has it.
                let deleted = ProcBytes.droppingDeletedSuffix(path).count != path.count
                let links = deleted ? files.reference("map_files/" + String(decoding: range, as: UTF8.self))?.links : nil
                found.add(view.place(Reference(identity: identity, mountID: nil, links: links, isDirectory: false),
                                     shown: path, link: nil, matcher: &matcher), .maps)
            }
        }
        if let environ = try found.attempt({ () throws(ProcFileError) in try files.read("environ") }) {
            let namesRoot = view.map { v in { (value: ArraySlice<UInt8>) in v.namesRoot(value) } }
            // Processes of a pool or one login mostly share one environment:
            // the answer for the same bytes, seen from the same view and
            // directory, is the same, so it is worked out once per scan.
            // Only in the scanner's own view: elsewhere words are opened
            // through this process's root, and an answer cut short by its
            // exit must not stand for another process.
            let memo = view.flatMap { $0.isOwnView ? EnvironmentKey(view: $0.viewNumber, cwd: $0.cwd, environ: environ) : nil }
            if let memo, let known = context.locator?.cachedEnvironment(memo) {
                for ref in known { found.add(ref, .environ) }
            } else {
                var answer = matcher.trees(inEnvironment: environ, namesRoot: namesRoot)
                if let view { answer += ProcWords.inEnvironment(environ).compactMap { view.trees(ofWord: $0) } }
                if let memo { context.locator?.rememberEnvironment(memo, answer) }
                for ref in answer { found.add(ref, .environ) }
            }
        }
        for ref in matcher.trees(inText: cmdline[...]) { found.add(ref, .cmdline) }
        if let view { for word in ProcWords.inCommandLine(cmdline) { found.add(view.trees(ofWord: word), .cmdline) } }
        // A job cgroup (`trees exec --cgroup`) holds every descendant of the
        // job, whatever it did to its environment and directory. Its name
        // carries the root's identity: see `Cgroup.tree(inProcCgroup:rootTag:)`.
        do throws(ProcFileError) {
            found.add(Cgroup.tree(inProcCgroup: try files.read("cgroup"), rootTag: context.rootTag), .cgroup)
        } catch {
            if error.errno == .noSuchProcess { throw ProcessGone() }
            // ENOENT: a kernel without cgroups, or a fixture without the file.
            if error.errno != .noSuchFileOrDirectory { found.record(error) }
        }
    }

    private func addDirectories(_ files: any ProcessFiles, rootShown: [UInt8]?, cwdShown: [UInt8]?, view: ProcessView?,
                                found: inout ProcessFindings, matcher: inout ProcPathMatcher,
                                unspellable: inout [(String, EvidenceKind)]) {
        for (link, shown, kind) in [("cwd", cwdShown, EvidenceKind.cwd), ("root", rootShown, .root)]
        where shown != nil || unspellable.contains(where: { $0.0 == link }) {
            addLink(link, of: files, shown: shown, kind: kind, view: view, found: &found, matcher: &matcher, unspellable: &unspellable)
        }
    }

    /// Places one link (`exe`, `cwd`, `root`, `fd/N`) by what it refers
    /// to (`ProcessView.place`); where the kernel gives no identity (a fake
    /// proc root, a failed statx) by its spelling, as the fallback. A link
    /// too long to spell with no identity is left to `addUnspellable`.
    private func addLink(_ link: String, of files: any ProcessFiles, shown: [UInt8]?, kind: EvidenceKind, view: ProcessView?,
                         found: inout ProcessFindings, matcher: inout ProcPathMatcher,
                         unspellable: inout [(String, EvidenceKind)]) {
        if let view, let reference = files.reference(link) {
            found.add(view.place(reference, shown: shown?[...], link: link, matcher: &matcher), kind)
            unspellable.removeAll { $0.0 == link }
            return
        }
        guard let shown else { return }
        let directory = kind == .cwd || kind == .root
        found.addSpelled(matcher.tree(ofKernelPath: shown[...]) ?? (directory ? nil : view?.tree(ofFileShown: shown[...], link: link)), kind)
    }

    /// The `fd/` table. Throws when the table cannot be listed, or ESRCH
    /// when the process is gone; other failures of one descriptor are kept.
    private func addDescriptors(_ files: any ProcessFiles, view: ProcessView?,
                                found: inout ProcessFindings, matcher: inout ProcPathMatcher) throws(ProcFileError) {
        var unspellable: [(String, EvidenceKind)] = []
        // A descriptor on a device without trees (a pipe, a socket,
        // /dev/null, a FUSE file) is in none: its path is not even read.
        let needsPath: (Reference?) -> Bool = { reference in
            guard let reference, let view else { return true }
            return view.locator.hasTrees(onDevice: reference.identity.device)
        }
        for (fd, target, reference) in try files.readReferences(in: "fd", needsPath: needsPath) where !fd.isEmpty && fd.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            let link = "fd/" + fd
            do throws(ProcFileError) {
                let shown = try target.get()
                if let view, let reference {
                    found.add(view.place(reference, shown: shown[...], link: link, matcher: &matcher), .fd)
                } else {
                    found.addSpelled(matcher.tree(ofKernelPath: shown[...]) ?? view?.tree(ofFileShown: shown[...], link: link), .fd)
                }
            } catch {
                // ENOENT here only means this descriptor was closed since the listing.
                if error.errno == .noSuchProcess { throw error }
                if error.errno == .nameTooLong {
                    if let view, let reference {
                        found.add(view.place(reference, shown: nil, link: link, matcher: &matcher), .fd)
                    } else {
                        unspellable.append((link, .fd))
                    }
                } else if error.errno != .noSuchFileOrDirectory {
                    found.record(error)
                }
            }
        }
        addUnspellable(unspellable, view: view, found: &found)
    }

    /// Links whose path is longer than the kernel will spell (a process
    /// deep in a directory tree, such as an install walking one) are
    /// placed by identity instead of making the process unknown; only
    /// what identity cannot place either is recorded as a failure. Without
    /// a view there are no trees on disk to be in.
    private func addUnspellable(_ links: [(String, EvidenceKind)], view: ProcessView?, found: inout ProcessFindings) {
        for (link, kind) in links {
            switch view?.tree(ofUnspellableLink: link) ?? .tree(nil) {
            case .tree(let tree):
                found.add(tree, kind)
            case .unknown:
                found.record(ProcFileError(file: link, errno: .nameTooLong))
            }
        }
    }

    /// Threads that do not share the leader's working directory and root
    /// (`CLONE_FS`) or file table (`CLONE_FILES`), e.g. after
    /// `unshare(CLONE_FS|CLONE_FILES)` in one thread, hold files of their
    /// own. `kcmp(2)` tells which cheaply; where it cannot, every thread is
    /// read. A thread that exits meanwhile is skipped; one that cannot be
    /// read makes the process unknown.
    func inspectThreads(_ pid: Int32, of process: any ProcessFiles, skipping used: String?, reader: any ProcReader,
                        context: ScanContext, found: inout ProcessFindings, matcher: inout ProcPathMatcher) {
        let tids: [String]
        do throws(ProcFileError) {
            tids = try process.list("task")
        } catch {
            if !error.meansGone { found.record(error) }
            return
        }
        let leader = String(pid)
        for tidText in tids where tidText != leader && tidText != used {
            guard let tid = Int32(tidText) else { continue }
            let sharing = reader.sharing(pid, thread: tid) ?? ThreadSharing(fs: false, files: false)
            if sharing.fs && sharing.files { continue }
            do throws(ProcFileError) {
                let thread = try process.subdirectory("task/" + tidText)
                var rootShown: [UInt8]?, cwdShown: [UInt8]?
                if !sharing.fs {
                    rootShown = try thread.readLink("root")
                    cwdShown = try thread.readLink("cwd")
                }
                let view = context.view(of: thread, pid: tid, rootShown: rootShown ?? (try? thread.readLink("root")),
                                        cwdShown: cwdShown)
                var unspellable: [(String, EvidenceKind)] = []
                addDirectories(thread, rootShown: rootShown, cwdShown: cwdShown, view: view, found: &found, matcher: &matcher,
                               unspellable: &unspellable)
                addUnspellable(unspellable, view: view, found: &found)
                if !sharing.files { try addDescriptors(thread, view: view, found: &found, matcher: &matcher) }
            } catch {
                if !error.meansGone { found.record(error) }
            }
        }
    }

    /// Another thread of `pid` to read through, when the main thread is gone.
    private func liveThread(of pid: Int32, in process: any ProcessFiles,
                            found: inout ProcessFindings) throws(ProcessGone) -> (String, any ProcessFiles)? {
        guard let tids = try found.attempt({ () throws(ProcFileError) in try process.list("task") }) else { return nil }
        for tid in tids where tid != String(pid) {
            do throws(ProcFileError) {
                return (tid, try process.subdirectory("task/" + tid))
            } catch {
                if !error.meansGone { found.record(error) }
            }
        }
        return nil
    }
}
