import ArgumentParser
import TreesCore
#if canImport(Glibc)
import Glibc
#endif

/// The entry point: parse, run, and map every error to a documented exit status.
public enum TreesMain {
    public static func main(_ arguments: [String]? = nil) -> Never {
        do {
            // exec, once per job, skips argument-parser when its line is plain (see ExecRequest).
            if let job = ExecRequest(fastParsing: arguments ?? Array(CommandLine.arguments.dropFirst())) { try job.run() }
            var command = try Trees.parseAsRoot(arguments)
            try command.run()
            exit(0)
        } catch let error as TreesError {
            printError(error)
            exit(error.exitStatus)
        } catch let error as CommandFailure {
            exit(error.status)
        } catch {
            // Help, --version and completion scripts are trees's own text, as
            // argument-parser prints it. Its errors quote the command line
            // back: the error (up to the end of its message) is one line,
            // the usage after it trees's own lines, each neutralized.
            let status = Trees.exitCode(for: error), full = Trees.fullMessage(for: error)
            if status == .success || full.isEmpty { Trees.exit(withError: error) }
            let message = Trees.message(for: error)
            let end = message.isEmpty ? nil : full.firstRange(of: message)?.upperBound
            let rest = full[(end ?? full.startIndex)...].split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            printErrorLines(end.map { [String(full[..<$0])] + rest.dropFirst() } ?? rest)
            exit(status.rawValue)
        }
    }
}

/// Thrown after a command printed its own report and wants a given status
/// (for example `verify` listing differing paths, then exiting 65).
struct CommandFailure: Error {
    let status: Int32
}

/// `trees: error: MESSAGE[: ERRNO]` and `trees: hint: HINT`, one line each:
/// a newline inside the message (a name quoted back) cannot forge a hint.
func printError(_ error: TreesError) {
    printErrorLines(["trees: error: " + error.summary] + (error.hint.map { ["trees: hint: " + $0] } ?? []))
}

func printWarning(_ message: String) {
    printErrorLines(["trees: warning: \(message)"])
}

func writeStandardError(_ text: String) {
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeBytes { buf in
            retryingEINTR { write(2, buf.baseAddress.map { $0 + offset }, buf.count - offset) }
        }
        if n <= 0 { return } // stderr gone: nothing more can be said
        offset += n
    }
}

/// A warning shown the first time it is given only: a command that scans
/// /proc several times (wait, remove --wait) says what the scan lacks once.
final class WarningOnce {
    private var shown = false

    func callAsFunction(_ message: String) {
        if shown { return }
        shown = true
        printWarning(message)
    }
}
