#if canImport(Glibc)
import Glibc
#endif

/// Reading process facts from a proc filesystem whose root tests can replace.
public enum ProcFS {
    /// The id of the running boot, trimmed of its newline.
    /// - Throws: `TreesError.system` when `open(2)` or `read(2)` of
    ///   `procRoot/sys/kernel/random/boot_id` fails, `.failure` when it is empty.
    public static func bootID(procRoot: String = "/proc") throws -> String {
        let path = procRoot + "/sys/kernel/random/boot_id"
        let bytes: [UInt8]
        do throws(ProcFileError) {
            bytes = try PseudoFile.read(path)
        } catch {
            throw TreesError.system("cannot read", path, errno: error.errno.rawValue)
        }
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters()
        guard !text.isEmpty else { throw TreesError(.failure, "\(path) is empty") }
        return text
    }

    /// The start time (field 22 of `stat`) of `pid`, or nil when the process
    /// is gone. Also nil when `stat` cannot be read at all (e.g. hidden by
    /// `hidepid`), so a caller deciding that a process is dead should check
    /// `hidepid(procRoot:)` too.
    public static func startTime(pid: Int32, procRoot: String = "/proc") -> UInt64? {
        guard let bytes = try? PseudoFile.read("\(procRoot)/\(pid)/stat") else { return nil }
        return ProcStat(bytes[...])?.startTime
    }

    /// Parses `/proc/PID/stat`. The command name may hold anything, even
    /// `) ` or spaces, so the fields are counted from the last `)`.
    public static func parseStat(_ text: String) -> (comm: String, state: Character, ppid: Int32, startTime: UInt64)? {
        guard let stat = ProcStat(Array(text.utf8)[...]) else { return nil }
        return (stat.comm, stat.state, stat.ppid, stat.startTime)
    }

    /// The `hidepid=` value of the proc mount at `procRoot` when it hides
    /// processes (anything but `0`/`off`), nil when it does not or when
    /// `procRoot/self/mountinfo` cannot be read.
    public static func hidepid(procRoot: String = "/proc") -> String? {
        guard let info = try? PseudoFile.read(procRoot + "/self/mountinfo") else { return nil }
        return hidepid(inMountInfo: info, mountPoint: canonicalPath(procRoot) ?? procRoot)
    }

    /// Finds a hiding `hidepid=` option among the proc mounts of a
    /// mountinfo(5) text. Mounts at `mountPoint` decide; when none is there
    /// (a fake proc root), every proc mount counts, which errs on the side
    /// of reporting processes as hidden.
    static func hidepid(inMountInfo info: [UInt8], mountPoint: String) -> String? {
        var foundMountPoint = false
        var atMountPoint: String?
        var elsewhere: String?
        for entry in MountInfoEntry.parse(info) where entry.fileSystemType == "proc" {
            let here = entry.mountPoint == mountPoint
            foundMountPoint = foundMountPoint || here
            for option in entry.options where option.hasPrefix("hidepid=") {
                let value = String(option.dropFirst(8))
                guard value != "0", value != "off" else { continue }
                if here { atMountPoint = atMountPoint ?? value } else { elsewhere = elsewhere ?? value }
            }
        }
        return foundMountPoint ? atMountPoint : elsewhere
    }
}
