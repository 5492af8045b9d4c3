import ArgumentParser
import TreesCore

/// A span of time as every option spells it: seconds (`90`) or a number with
/// `s`, `m`, `h` or `d`. argument-parser parses it once, so each option that
/// takes one agrees on the grammar, a bad value is a usage error (64) naming
/// the option, and commands get seconds rather than strings to check again.
struct DurationArgument: ExpressibleByArgument, Sendable {
    let seconds: Int64
    private let spelled: String

    init?(argument: String) {
        guard let seconds = parseDuration(argument) else { return nil }
        self.seconds = seconds
        spelled = argument
    }

    /// A default, written as `--help` shows it.
    init(seconds: Int64, spelled: String) {
        self.seconds = seconds
        self.spelled = spelled
    }

    /// The value shown as an option's default in `--help`.
    var defaultValueDescription: String { spelled }

    /// Seconds as a `Double`, for the waits that take one.
    var interval: Double { Double(seconds) }
}
