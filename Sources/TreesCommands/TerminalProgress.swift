import TreesCore
#if canImport(Glibc)
import Glibc
#endif

/// Shows progress of long work (install, verify, gc deleting) as one updating
/// line on stderr: files, bytes and rate. Only when stderr is a terminal and
/// --quiet was not given, only after the work has taken more than a moment,
/// at most ten times a second.
final class TerminalProgress {
    let enabled: Bool
    let started = monotonicNow()
    var lastDraw = 0.0
    var drawn = false

    /// `enabled` defaults to "stderr is a terminal"; commands pass `global.progress()` to honour --quiet.
    init(enabled: Bool = isatty(2) == 1) {
        self.enabled = enabled
    }

    func update(_ p: Progress) {
        guard enabled else { return }
        let now = monotonicNow()
        guard now - started > 0.5, now - lastDraw > 0.1 else { return }
        lastDraw = now
        drawn = true
        let rate = Int64(Double(p.bytes) / max(now - started, 0.001))
        // The one escape sequence trees writes on purpose; what follows it is neutralized.
        writeStandardError("\r\u{1B}[K" + neutralized("\(p.phase): \(p.files) files, \(formatBytes(p.bytes)), \(formatBytes(rate))/s"))
    }

    func finish() {
        if drawn { writeStandardError("\r\u{1B}[K") }
    }

    var handler: ProgressHandler { { [self] in self.update($0) } }
}
