#if canImport(Glibc)
import Glibc
#endif

/// The capabilities that let a scan read other users' processes, and which
/// of them this process lacks.
///
/// `CAP_SYS_PTRACE` passes the ptrace access check that guards
/// `/proc/PID/{exe,cwd,root,fd,maps,environ}` of another uid;
/// `CAP_DAC_READ_SEARCH` opens the entries only their owner may read
/// (`environ` 0400, `fd/` 0500) and walks the paths they name. Root has
/// both; an operator who is not root gets them from its systemd unit
/// (`AmbientCapabilities=`).
enum ScanCapabilities {
    static let needed: [(bit: UInt64, name: String)] = [(19, "CAP_SYS_PTRACE"), (2, "CAP_DAC_READ_SEARCH")]

    /// The names of `needed` missing from the effective set in
    /// `procRoot/self/status`; none when that cannot be read (a fake proc root).
    static func missing(procRoot: String) -> [String] {
        guard let status = try? PseudoFile.read(procRoot + "/self/status") else { return [] }
        let text = String(decoding: status, as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
              let effective = UInt64(line.dropFirst("CapEff:".count).drop(while: { $0 == " " || $0 == "\t" }), radix: 16) else { return [] }
        return needed.filter { effective & (1 << $0.bit) == 0 }.map(\.name)
    }
}
