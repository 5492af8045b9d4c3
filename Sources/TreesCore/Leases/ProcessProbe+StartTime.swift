#if canImport(Glibc)
import Glibc
#endif

extension ProcessProbe {
    /// The boot time (`btime` of `/proc/stat`, Unix seconds) and clock ticks
    /// per second: read once, then `startedAt(_:boot:)` per process.
    public struct BootClock: Sendable {
        public let bootTime: Int64
        public let ticksPerSecond: Int64

        /// Unix time at which a process with this start time (clock ticks since boot) started.
        public func startedAt(_ startTime: UInt64) -> Int64 { bootTime + Int64(startTime) / ticksPerSecond }
    }

    /// Reads `btime` from `/proc/stat`; nil when it cannot be read.
    public func bootClock() -> BootClock? {
        guard let bytes = try? PseudoFile.read("\(procRoot)/stat"),
              let line = String(decoding: bytes, as: UTF8.self).split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
              let boot = Int64(line.dropFirst(6).trimmingPrefixSpaces()) else { return nil }
        let ticks = Int64(sysconf(Int32(_SC_CLK_TCK)))
        guard ticks > 0 else { return nil }
        return BootClock(bootTime: boot, ticksPerSecond: ticks)
    }

    /// Unix time at which a process with this start time started. Reads
    /// `/proc/stat` each call: for many processes, take `bootClock()` once.
    public func startedAt(_ startTime: UInt64) -> Int64? {
        bootClock()?.startedAt(startTime)
    }
}
