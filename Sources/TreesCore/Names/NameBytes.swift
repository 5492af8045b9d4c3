/// The byte classes of NAME and REV, written once: the validators, the /proc
/// path matcher and the job-cgroup name parser all read this table, so the
/// grammar in DESIGN.md cannot drift between them.
enum NameBytes {
    /// `[a-z0-9]`: what a NAME starts with.
    static func isNameStart(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) }
    /// `[a-z0-9._-]`: the characters of a NAME.
    static func isName(_ b: UInt8) -> Bool { isNameStart(b) || b == 0x2e || b == 0x5f || b == 0x2d }
    /// `[A-Za-z0-9]`: what a REV starts with.
    static func isRevStart(_ b: UInt8) -> Bool { isNameStart(b) || (b >= 0x41 && b <= 0x5a) }
    /// `[A-Za-z0-9._+-]`: the characters of a REV.
    static func isRev(_ b: UInt8) -> Bool { isName(b) || (b >= 0x41 && b <= 0x5a) || b == 0x2b }

    /// Whether `bytes` is `start` then `rest`, within `lengths`.
    static func matches<C: Collection<UInt8>>(_ bytes: C, lengths: ClosedRange<Int>, start: (UInt8) -> Bool,
                                             rest: (UInt8) -> Bool) -> Bool {
        guard lengths.contains(bytes.count), let first = bytes.first, start(first) else { return false }
        return bytes.dropFirst().allSatisfy(rest)
    }
}
