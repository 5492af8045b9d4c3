#if canImport(Glibc)
import Glibc
#endif

extension ProcessProbe {
    /// Unix time at which a process with this start time (clock ticks since boot) started.
    public func startedAt(_ startTime: UInt64) -> Int64? {
        guard let bytes = try? ProcFS.readFile("\(procRoot)/stat"),
              let line = String(decoding: bytes, as: UTF8.self).split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
              let boot = Int64(line.dropFirst(6).trimmingPrefixSpaces()) else { return nil }
        let ticks = Int64(sysconf(Int32(_SC_CLK_TCK)))
        guard ticks > 0 else { return nil }
        return boot + Int64(startTime) / ticks
    }
}
