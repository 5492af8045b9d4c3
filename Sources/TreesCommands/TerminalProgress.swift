import TreesCore
#if canImport(Glibc)
import Glibc
#endif

/// Shows progress of long work on stderr, only when stderr is a terminal,
/// only after the work has taken more than a moment, at most ten times a second.
final class TerminalProgress {
    let enabled = isatty(2) == 1
    let started = monotonicNow()
    var lastDraw = 0.0
    var drawn = false

    func update(_ p: Progress) {
        guard enabled else { return }
        let now = monotonicNow()
        guard now - started > 0.5, now - lastDraw > 0.1 else { return }
        lastDraw = now
        drawn = true
        writeStandardError("\r\u{1B}[K\(p.phase): \(p.files) files, \(formatBytes(p.bytes))")
    }

    func finish() {
        if drawn { writeStandardError("\r\u{1B}[K") }
    }

    var handler: ProgressHandler { { [self] in self.update($0) } }
}
