#if canImport(Glibc)
import Glibc
#endif

/// Takes an advisory lock (`flock(2)`) on an open file.
///
/// With `timeout` nil, returns false at once when someone else holds it.
/// Otherwise polls (never a blocking `flock`, which a hostile or hung holder
/// could stretch forever) until `timeout` seconds pass, then throws
/// `.temporary` (75) naming the holders that `/proc/locks` shows.
/// - Throws: `TreesError.system` for any other `flock` failure.
func lockFile(_ fd: Int32, exclusive: Bool = true, waitingUpTo timeout: Double?, path: String) throws -> Bool {
    let op = (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB
    let deadline = monotonicNow() + (timeout ?? 0)
    var pause: useconds_t = 500
    while true {
        if retryingEINTR({ flock(fd, op) }) == 0 { return true }
        let err = errno
        guard err == EWOULDBLOCK else { throw TreesError.system("cannot lock", path, errno: err) }
        guard let timeout else { return false }
        if monotonicNow() >= deadline {
            throw TreesError(.temporary, "timed out after \(formatSeconds(timeout)) waiting for the lock on \(path), held by \(describeLockHolders(fd))",
                             hint: "Try again later, or raise TREES_LOCK_TIMEOUT; if the holder is hung, end it by its pid.")
        }
        usleep(pause)
        // Capped at 2 ms: a longer sleep overshoots the holder's release by
        // up to its length, and a job waiting on gc's brief hold then waits
        // several times as long as gc held it.
        pause = min(pause * 2, 2_000)
    }
}

/// Who holds locks on the file open at `fd`, from `/proc/locks` (pid and
/// command of each), or "an unknown process" where that cannot be told
/// (another pid namespace, /proc unreadable).
func describeLockHolders(_ fd: Int32) -> String {
    let pids = lockHolders(fd)
    guard !pids.isEmpty else { return "an unknown process" }
    return pids.prefix(5).map { pid -> String in
        let comm = (try? PseudoFile.read("/proc/\(pid)/comm")).map { String(decoding: $0, as: UTF8.self).trimmingCharacters() }
        return comm.map { "pid \(pid) (\(quoted($0)))" } ?? "pid \(pid)"
    }.joined(separator: ", ")
}

/// The pids `/proc/locks` lists for the inode open at `fd` (flock and POSIX
/// locks alike). A line reads `1: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF`,
/// the device as hexadecimal major:minor.
func lockHolders(_ fd: Int32) -> [Int32] {
    var st = stat()
    guard fstat(fd, &st) == 0, let bytes = try? PseudoFile.read("/proc/locks") else { return [] }
    // glibc's major()/minor() are macros Swift cannot see; this is their encoding.
    let dev = UInt64(st.st_dev)
    let major = UInt32(truncatingIfNeeded: ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff)))
    let minor = UInt32(truncatingIfNeeded: (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff)))
    let key = "\(hexPadded(major)):\(hexPadded(minor)):\(st.st_ino)"
    var pids: [Int32] = []
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        // Blocked waiters are listed as `1: -> FLOCK …`; they hold nothing.
        guard fields.count >= 6, fields[1] != "->", let i = fields.firstIndex(where: { $0.contains(":") && $0.split(separator: ":").count == 3 }),
              i > 0, fields[i] == key, let pid = Int32(fields[i - 1]), pid > 0 else { continue }
        if !pids.contains(pid) { pids.append(pid) }
    }
    return pids
}

private func hexPadded(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, 2 - digits.count)) + digits
}

private func formatSeconds(_ seconds: Double) -> String {
    seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(seconds)s"
}
