#if canImport(Glibc)
import Glibc
#endif

/// Finds which trees hold given inodes, by reading every directory of
/// every tree once: what the /proc spelling of a reference could not tell
/// (a file reached through a mount since detached, a mount of a directory
/// inside a tree whose walk up ended at its root).
///
/// `readdir` gives each entry's inode (`d_ino`), so the search costs one
/// `getdents` per directory and no `stat` per file. It never follows a
/// symlink (directories are opened `O_NOFOLLOW`) nor leaves a tree's device
/// (a mount inside a tree is its own device). A hard-linked (deduplicated)
/// inode is found in every tree that links it, and each keeps it.
struct TreeInodeSearch {
    let rootPath: String

    /// The trees (among `trees`) holding each of `wanted`.
    /// A tree that cannot be read is reported as holding every wanted inode
    /// on its device: a search that cannot look must not clear a tree.
    func run(for wanted: Set<FileIdentity>, in trees: Set<TreeRef>) -> [FileIdentity: Set<TreeRef>] {
        guard !wanted.isEmpty, let root = try? Directory.open(rootPath) else {
            return Dictionary(uniqueKeysWithValues: wanted.map { ($0, trees) })
        }
        var found: [FileIdentity: Set<TreeRef>] = [:]
        for tree in trees.sorted(by: { ($0.name.value, $0.rev.value) < ($1.name.value, $1.rev.value) }) {
            guard let names = try? root.openDirectory(Array(tree.name.value.utf8)),
                  let top = try? names.openDirectory(Array(tree.rev.value.utf8)),
                  let st = try? top.status() else {
                // Gone since the scan began, or unreadable: keep it for what it may hold.
                if (try? root.exists(tree.name.value + "/" + tree.rev.value)) != false {
                    for identity in wanted { found[identity, default: []].insert(tree) }
                }
                continue
            }
            let device = UInt64(st.st_dev)
            let here = Set(wanted.filter { $0.device == device }.map(\.inode))
            guard !here.isEmpty else { continue }
            if here.contains(UInt64(st.st_ino)) { found[FileIdentity(device: device, inode: UInt64(st.st_ino)), default: []].insert(tree) }
            var complete = true
            walk(top, device: device, inodes: here, depth: 0, complete: &complete) { inode in
                found[FileIdentity(device: device, inode: inode), default: []].insert(tree)
            }
            if !complete { for identity in wanted where identity.device == device { found[identity, default: []].insert(tree) } }
        }
        return found
    }

    /// Depth-first through one directory; `hit` for each entry whose inode
    /// is wanted. A directory that cannot be opened or read clears `complete`.
    private func walk(_ directory: Directory, device: UInt64, inodes: Set<UInt64>, depth: Int, complete: inout Bool,
                      hit: (UInt64) -> Void) {
        guard depth < 4096 else { complete = false; return }
        let dupfd = fcntl(directory.fd, F_DUPFD_CLOEXEC, 0)
        guard dupfd >= 0, let stream = fdopendir(dupfd) else {
            if dupfd >= 0 { close(dupfd) }
            complete = false
            return
        }
        var subdirectories: [[UInt8]] = []
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 { complete = false }
                break
            }
            let name: [UInt8] = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix(while: { $0 != 0 })) }
            if name == [0x2e] || name == [0x2e, 0x2e] { continue }
            if inodes.contains(UInt64(entry.pointee.d_ino)) { hit(UInt64(entry.pointee.d_ino)) }
            let type = entry.pointee.d_type
            if type == UInt8(DT_DIR) || type == UInt8(DT_UNKNOWN) { subdirectories.append(name) }
        }
        closedir(stream)
        for name in subdirectories {
            // O_NOFOLLOW|O_DIRECTORY: a symlink or a file (DT_UNKNOWN) is skipped.
            guard let child = try? directory.openDirectory(name) else { continue }
            guard let st = try? child.status(), UInt64(st.st_dev) == device else { continue }
            walk(child, device: device, inodes: inodes, depth: depth + 1, complete: &complete, hit: hit)
        }
    }
}
