#if canImport(Glibc)
import Glibc
#endif

/// The fields of `/proc/PID/stat` that the scanner and leases need.
struct ProcStat: Equatable {
    /// Set in `flags` for kernel threads, which never run from a tree.
    static let kernelThreadFlag: UInt32 = 0x0020_0000 // PF_KTHREAD

    var comm: String
    var state: Character
    var ppid: Int32
    var flags: UInt32
    var threads: Int
    var startTime: UInt64

    var isKernelThread: Bool { flags & ProcStat.kernelThreadFlag != 0 }

    /// Parses `pid (comm) state ppid ...`; fields are numbered from 1 (pid),
    /// so after the last `)` index 0 is field 3 (state).
    init?(_ bytes: ArraySlice<UInt8>) {
        guard let open = bytes.firstIndex(of: UInt8(ascii: "(")),
              let close = bytes.lastIndex(of: UInt8(ascii: ")")), open < close else { return nil }
        let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " "), maxSplits: 20)
        guard fields.count > 19, fields[0].count == 1, let stateByte = fields[0].first,
              let ppid = Int32(ProcStat.text(fields[1])),
              let flags = UInt32(ProcStat.text(fields[6])),
              let threads = Int(ProcStat.text(fields[17])),
              let startTime = UInt64(ProcStat.text(fields[19])) else { return nil }
        comm = String(decoding: bytes[(open + 1)..<close], as: UTF8.self)
        state = Character(Unicode.Scalar(stateByte))
        self.ppid = ppid
        self.flags = flags
        self.threads = threads
        self.startTime = startTime
    }

    private static func text(_ field: ArraySlice<UInt8>) -> String {
        String(decoding: field, as: UTF8.self).trimmingCharacters()
    }
}
