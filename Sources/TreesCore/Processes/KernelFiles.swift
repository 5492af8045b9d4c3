#if canImport(Glibc)
import Glibc
#endif
import CTreesShim

/// Files the kernel holds with no process or mount table showing them:
/// the backing files of loop devices and the active swap files. Each is
/// spelled by the kernel in the scanner's own view; a loop device also
/// gives the backing file's device and inode (`LOOP_GET_STATUS64`).
struct KernelFiles {
    /// One held file: who holds it, its spelling, and its identity if known.
    struct File {
        var kind: EvidenceKind
        var holder: String
        var path: [UInt8]
        var identity: FileIdentity?
    }

    var sysBlock = "/sys/block"
    var devices = "/dev"
    var procRoot = "/proc"

    /// Every bound loop device's backing file, then every swap file.
    func files() -> [File] { loopFiles() + swapFiles() }

    func loopFiles() -> [File] {
        guard let block = try? Directory.open(sysBlock), let entries = try? block.entries() else { return [] }
        var files: [File] = []
        for entry in entries {
            let name = entry.name.display
            guard name.hasPrefix("loop"), name.dropFirst(4).allSatisfy(\.isNumber),
                  var path = try? readSmall(sysBlock + "/" + name + "/loop/backing_file") else { continue }
            if path.last == ProcBytes.newline { path.removeLast() }
            guard !path.isEmpty else { continue }
            var dev: UInt64 = 0, ino: UInt64 = 0
            let node = devices + "/" + name
            let identity = CT_loop_backing(node, &dev, &ino) == 0 ? FileIdentity(device: dev, inode: ino) : nil
            files.append(File(kind: .loop, holder: node, path: path, identity: identity))
        }
        return files
    }

    /// `/proc/swaps`: `Filename Type Size Used Priority`, names escaped as in mountinfo.
    func swapFiles() -> [File] {
        guard let text = try? readSmall(procRoot + "/swaps") else { return [] }
        var files: [File] = []
        for line in text.split(separator: ProcBytes.newline).dropFirst() {
            // Spaces pad the name, tabs the rest; both are escaped inside a name.
            let fields = line.split(omittingEmptySubsequences: true) { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
            guard fields.count >= 2, fields[1].elementsEqual("file".utf8) else { continue }
            let path = MountTable.unescaped(fields[0])
            files.append(File(kind: .swap, holder: "swap file " + String(decoding: path, as: UTF8.self), path: path, identity: nil))
        }
        return files
    }

    private func readSmall(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TreesError.system("cannot read", path, errno: errno) }
        defer { close(fd) }
        var scratch = [UInt8](repeating: 0, count: 8192)
        return try PseudoFile.readToEnd(fd, file: path, scratch: &scratch)
    }
}

extension TreeLocator {
    /// Where a file the kernel spells in the scanner's own view lies: its
    /// identity (given, or read by opening the spelling) placed as a
    /// process's file would be. Nil when it cannot be told: the spelling
    /// does not open (deleted, or on another mount namespace's path) and
    /// no identity was given.
    func place(kernelFile file: KernelFiles.File) -> Placement? {
        let path = file.path[...]
        let deleted = ProcBytes.droppingDeletedSuffix(path).count != path.count
        var spelled: FileIdentity?
        var parentTree: TreeRef?
        if !deleted, path.first == ProcBytes.slash, mayOpenInOwnView(path) {
            if let fd = openPathOnly(path, directory: false) {
                spelled = MountedFile(fd: fd)?.identity
                close(fd)
            }
            if let slash = path.lastIndex(of: ProcBytes.slash), let fd = openPathOnly(slash == path.startIndex ? [ProcBytes.slash] : path[..<slash], directory: true) {
                parentTree = tree(walkingUpFrom: fd)
            }
        }
        guard let identity = file.identity ?? spelled else {
            // Not found where spelled and no identity: on a device with trees, fail closed.
            return path.first == ProcBytes.slash && !mayOpenInOwnView(path) ? .tree(nil) : nil
        }
        guard hasTrees(onDevice: identity.device) else { return .tree(nil) }
        return spelled == identity ? .tree(parentTree) : .search(identity)
    }
}
