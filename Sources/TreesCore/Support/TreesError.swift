#if canImport(Glibc)
import Glibc
#endif

/// The one error type of the core library: a code that decides the exit
/// status, a message a person can act on, and the errno when a system call
/// failed.
public struct TreesError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure this is; extensible without breaking callers.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// Something went wrong that the user could not have prevented (exit 1).
        public static let failure = Code(rawValue: "failure")
        /// The command line was wrong (exit 64).
        public static let usage = Code(rawValue: "usage")
        /// A name, archive, source or database content is invalid (exit 65).
        public static let badInput = Code(rawValue: "bad-input")
        /// The named tree, lease or source does not exist (exit 66).
        public static let notFound = Code(rawValue: "not-found")
        /// Busy, in use, timed out or out of space: retrying later may work (exit 75).
        public static let temporary = Code(rawValue: "temporary")
        /// The state database is damaged or unreadable (exit 1, never repaired).
        public static let database = Code(rawValue: "database")
        /// `trees exec`: the command exists but cannot be executed (exit 126, as shells do).
        public static let cannotExecute = Code(rawValue: "cannot-execute")
        /// `trees exec`: the command was not found (exit 127, as shells do).
        public static let commandNotFound = Code(rawValue: "command-not-found")
    }

    public var code: Code
    public var message: String
    /// The errno of the failed system call, captured right after it failed.
    public var errno: Errno?
    /// What the user can do about it.
    public var hint: String?

    public init(_ code: Code, _ message: String, errno: Errno? = nil, hint: String? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
        self.hint = hint
    }

    /// The documented exit status for this error.
    public var exitStatus: Int32 {
        switch code {
        case .usage: return 64
        case .badInput: return 65
        case .notFound: return 66
        case .temporary: return 75
        case .cannotExecute: return 126
        case .commandNotFound: return 127
        default: return 1
        }
    }

    /// The message with the errno, the line a person reads first.
    public var summary: String {
        errno.map { "\(message): \($0)" } ?? message
    }

    public var description: String {
        hint.map { summary + "\n" + $0 } ?? summary
    }

    /// An error for a failed system call on `path`, classified by its errno.
    public static func system(_ call: String, _ path: String, errno err: Int32, hint: String? = nil) -> TreesError {
        let code: Code
        var hint = hint
        switch err {
        case ENOSPC, EDQUOT:
            code = .temporary
            hint = hint ?? "Free space on the filesystem holding \(path) and try again; nothing was changed."
        case EACCES, EPERM:
            code = .failure
            hint = hint ?? "Run as a user that may write there (usually root), or choose another --root."
        case EROFS:
            code = .failure
            hint = hint ?? "The filesystem is read-only; choose another --root."
        default:
            code = .failure
        }
        return TreesError(code, "\(call) \(path)", errno: Errno(err), hint: hint)
    }
}
