#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock seconds since the epoch, as the database stores times.
public func unixNow() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec)
}

/// Monotonic seconds, for timeouts that must not jump with the wall clock.
public func monotonicNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Formats unix seconds as RFC 3339 in UTC, e.g. `2026-11-26T15:34:23Z`.
public func rfc3339(_ seconds: Int64) -> String {
    var t = time_t(seconds)
    var parts = tm()
    gmtime_r(&t, &parts)
    func pad(_ v: Int32, _ width: Int) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }
    return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
        + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))Z"
}

/// Parses a duration such as `90`, `30s`, `5m`, `2h` or `1d` into seconds.
/// Returns nil for anything else (callers report it as a usage error).
public func parseDuration(_ text: String) -> Int64? {
    guard let last = text.last else { return nil }
    let unit: Int64
    var digits = Substring(text)
    switch last {
    case "s": unit = 1; digits = digits.dropLast()
    case "m": unit = 60; digits = digits.dropLast()
    case "h": unit = 3600; digits = digits.dropLast()
    case "d": unit = 86400; digits = digits.dropLast()
    default: unit = 1
    }
    guard !digits.isEmpty, digits.count <= 12, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
          let value = Int64(digits) else { return nil }
    return value * unit
}
