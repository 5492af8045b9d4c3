#if canImport(Glibc)
import Glibc
#endif

/// A signal a drain may send, by name (`TERM`, `SIGTERM`, `term`): only
/// the signals a job can be asked to finish with, never a number.
public struct DrainSignal: Sendable, Hashable, CustomStringConvertible {
    /// Without `SIG`, upper case: `TERM`.
    public let name: String
    public let number: Int32

    static let known: [(String, Int32)] = [
        ("HUP", SIGHUP), ("INT", SIGINT), ("QUIT", SIGQUIT), ("USR1", SIGUSR1), ("USR2", SIGUSR2),
        ("TERM", SIGTERM), ("TSTP", SIGTSTP), ("STOP", SIGSTOP), ("CONT", SIGCONT), ("WINCH", SIGWINCH),
        ("ALRM", SIGALRM), ("PWR", SIGPWR), ("TTIN", SIGTTIN), ("TTOU", SIGTTOU), ("KILL", SIGKILL),
    ]

    public static let term = DrainSignal(name: "TERM", number: SIGTERM)
    public static let kill = DrainSignal(name: "KILL", number: SIGKILL)

    private init(name: String, number: Int32) {
        self.name = name
        self.number = number
    }

    /// `nil` for anything but a known name, with or without `SIG`, in any case.
    public init?(named text: some StringProtocol) {
        var upper = String(text).uppercased()
        if upper.hasPrefix("SIG") { upper.removeFirst(3) }
        guard let found = DrainSignal.known.first(where: { $0.0 == upper }) else { return nil }
        self.init(name: found.0, number: found.1)
    }

    public var description: String { name }

    /// Whether a stopped process must be woken (`CONT`) to act on it, as
    /// systemd does after its kill signal: not for the signals that stop or
    /// continue, nor for KILL, which needs no waking.
    public var wakesStopped: Bool {
        ![SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGCONT, SIGKILL].contains(number)
    }
}

/// One step of a drain: a signal and when it is due.
public struct DrainStep: Sendable, Hashable, CustomStringConvertible {
    public let signal: DrainSignal
    /// Seconds after the drain began (`@2h`), or after the previous step
    /// was sent when `relative` (`@+60s`).
    public let delay: Int64
    public let relative: Bool

    public var description: String {
        if delay == 0 && !relative { return signal.name }
        return "\(signal.name)@\(relative ? "+" : "")\(DrainProtocol.spell(delay))"
    }
}

/// How a tree's processes are told to finish: signals on deadlines,
/// `TSTP,TERM@2h,KILL@+60s` (the first at once; `@2h` two hours after the
/// drain began; `@+60s` a minute after the step before was sent). KILL is
/// sent only when a step asks for it, and nothing follows it.
public struct DrainProtocol: Sendable, Hashable, CustomStringConvertible {
    public let steps: [DrainStep]

    /// TERM at once, and nothing more: what a drain does when neither the
    /// command nor the release says otherwise.
    public static let standard = DrainProtocol(checked: [DrainStep(signal: .term, delay: 0, relative: false)])

    /// The longest a drain's schedule may reach (a year): a longer deadline
    /// is a typo, not a plan.
    public static let longest: Int64 = 366 * 86400
    public static let mostSteps = 16

    private init(checked steps: [DrainStep]) { self.steps = steps }

    /// Parses `SIG[@[+]DURATION],…` as `install --drain` and the database keep it.
    /// - Throws: `.badInput` (65) naming what is wrong; nothing is changed by a caller that parses first.
    public init(parsing text: String) throws {
        guard text.utf8.count <= 1024 else { throw DrainProtocol.bad(text, "longer than 1024 bytes") }
        try self.init(words: text.split(separator: ",", omittingEmptySubsequences: false).map(String.init), spelled: text)
    }

    /// The steps as `drain --signal S --then S@T …` gives them.
    public init(signal: String, then: [String]) throws {
        let words = [signal] + then
        try self.init(words: words, spelled: words.joined(separator: ","))
    }

    private init(words: [String], spelled: String) throws {
        guard words.count <= DrainProtocol.mostSteps else {
            throw DrainProtocol.bad(spelled, "more than \(DrainProtocol.mostSteps) steps")
        }
        var steps: [DrainStep] = []
        var earliest: Int64 = 0 // when the step before is due at the earliest
        for (index, word) in words.enumerated() {
            let parts = word.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = parts.first, !name.isEmpty else { throw DrainProtocol.bad(spelled, "a step has no signal (\(quoted(word)))") }
            guard let signal = DrainSignal(named: name) else {
                throw DrainProtocol.bad(spelled, "\(quoted(String(name))) is not a signal a drain sends (one of \(DrainSignal.known.map(\.0).joined(separator: ", ")))")
            }
            if steps.last?.signal == .kill { throw DrainProtocol.bad(spelled, "nothing can follow KILL") }
            var delay: Int64 = 0, relative = false
            if parts.count == 2 {
                var when = Substring(parts[1])
                if when.first == "+" { relative = true; when = when.dropFirst() }
                guard let seconds = parseDuration(String(when)) else {
                    throw DrainProtocol.bad(spelled, "\(quoted(word)): the deadline must be DURATION or +DURATION (90, 30s, 5m, 2h, 1d)")
                }
                delay = seconds
            } else if index > 0 {
                throw DrainProtocol.bad(spelled, "\(quoted(word)): every step after the first needs a deadline (@2h after the start, @+60s after the step before)")
            }
            let due = relative ? earliest + delay : delay
            guard delay <= DrainProtocol.longest, due <= DrainProtocol.longest else {
                throw DrainProtocol.bad(spelled, "\(quoted(word)) is due more than 366 days after the drain begins")
            }
            guard due >= earliest else {
                throw DrainProtocol.bad(spelled, "\(quoted(word)) is due before the step before it")
            }
            earliest = due
            steps.append(DrainStep(signal: signal, delay: delay, relative: relative))
        }
        self.init(checked: steps)
    }

    /// The canonical spelling, as the database keeps it: `TSTP,TERM@2h,KILL@+1m`.
    public var description: String { steps.map(\.description).joined(separator: ",") }

    /// When step `index` is due (Unix seconds): at `startedAt` plus its
    /// planned offset, and never sooner after step `index - 1` was sent than
    /// the protocol spaced the two (nil while that step was not sent). A
    /// drain that was down when a deadline passed so sends its steps one at
    /// a time, as far apart as planned: KILL never lands right on TERM.
    /// - Parameter sentAt: when each step before was sent, by index.
    public func due(_ index: Int, startedAt: Int64, sentAt: [Int: Int64]) -> Int64? {
        guard steps.indices.contains(index) else { return nil }
        let planned = plannedOffsets
        guard index > 0 else { return startedAt + planned[0] }
        guard let previous = sentAt[index - 1] else { return nil }
        return max(startedAt + planned[index], previous + planned[index] - planned[index - 1])
    }

    /// Each step's offset from the start when every step is sent on time.
    var plannedOffsets: [Int64] {
        var offsets: [Int64] = []
        for step in steps { offsets.append(step.relative ? (offsets.last ?? 0) + step.delay : step.delay) }
        return offsets
    }

    static func bad(_ text: String, _ why: String) -> TreesError {
        TreesError(.badInput, "invalid drain protocol \(quoted(String(text.prefix(200)))): \(why)",
                   hint: "Write SIGNAL[@DURATION|@+DURATION],…, e.g. TSTP,TERM@2h,KILL@+60s: the first step at once, @2h after the drain began, @+60s after the step before.")
    }

    /// Seconds in the largest unit that divides them: `7200` → `2h`.
    static func spell(_ seconds: Int64) -> String {
        for (unit, size) in [("d", Int64(86400)), ("h", 3600), ("m", 60)] where seconds >= size && seconds % size == 0 {
            return "\(seconds / size)\(unit)"
        }
        return "\(seconds)s"
    }
}
