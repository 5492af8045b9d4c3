#if canImport(Glibc)
import Glibc
#endif

/// The owner a shared path is given (`--owner USER[:GROUP]`): the job user
/// that writes to it. Names are looked up once, at declaration; the
/// numbers are what is recorded, so a renamed account keeps its paths.
public struct SharedOwner: Sendable, Equatable {
    public let uid: uid_t
    public let gid: gid_t

    /// Parses `USER[:GROUP]`, each a name or a number; without GROUP, the
    /// user's primary group.
    /// - Throws: `.badInput` (65) for an empty part or an unknown user or group.
    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let user = parts.first, !user.isEmpty, parts.count == 1 || !parts[1].isEmpty else {
            throw TreesError(.badInput, "invalid owner \(quoted(text))", hint: "Give USER or USER:GROUP, as names or numbers, e.g. --owner www-data:www-data.")
        }
        let account = SharedOwner.user(user)
        guard let uid = account?.uid ?? UInt32(user).map({ uid_t($0) }) else {
            throw TreesError(.badInput, "no such user \(quoted(user))", hint: "Create the job user first, or give its uid.")
        }
        if parts.count == 2 {
            guard let gid = SharedOwner.groupID(parts[1]) ?? UInt32(parts[1]).map({ gid_t($0) }) else {
                throw TreesError(.badInput, "no such group \(quoted(parts[1]))", hint: "Create the group first, or give its gid.")
            }
            self.gid = gid
        } else if let primary = account?.gid ?? SharedOwner.user(String(uid))?.gid {
            self.gid = primary
        } else {
            throw TreesError(.badInput, "uid \(uid) has no account to take a group from", hint: "Give the group too: --owner \(uid):GID.")
        }
        self.uid = uid
    }

    /// `getpwnam_r`, or `getpwuid_r` for a number.
    static func user(_ name: String) -> (uid: uid_t, gid: gid_t)? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        let rc: Int32
        if let number = UInt32(name) {
            rc = getpwuid_r(uid_t(number), &entry, &buffer, buffer.count, &result)
        } else {
            rc = getpwnam_r(name, &entry, &buffer, buffer.count, &result)
        }
        guard rc == 0, result != nil else { return nil }
        return (entry.pw_uid, entry.pw_gid)
    }

    /// `getgrnam_r`.
    static func groupID(_ name: String) -> gid_t? {
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 65536)
        guard getgrnam_r(name, &entry, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return entry.gr_gid
    }
}
