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
            printError(error.description)
            exit(error.exitStatus)
        } catch let error as CommandFailure {
            exit(error.status)
        } catch {
            Trees.exit(withError: error)
        }
    }
}

/// Thrown after a command printed its own report and wants a given status
/// (for example `verify` listing differing paths, then exiting 65).
struct CommandFailure: Error {
    let status: Int32
}

func printError(_ message: String) {
    let lines = message.split(separator: "\n", omittingEmptySubsequences: false)
    var text = "trees: error: \(lines.first ?? "")\n"
    for line in lines.dropFirst() { text += "trees: hint: \(line)\n" }
    writeStandardError(text)
}

func printWarning(_ message: String) {
    writeStandardError("trees: warning: \(message)\n")
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
