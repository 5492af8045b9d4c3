#if canImport(Glibc)
import Glibc
#endif
import CTreesShim

/// The hidden name a tree passes through beside `ROOT/NAME/REV` on its way
/// in from staging or out to the trash.
///
/// rename(2) gives a directory a new parent only with write permission on
/// the directory itself (its `..` changes), which a sealed tree withholds
/// from everyone but root; an operator who is not root could neither
/// install nor delete. So a tree crosses in two renames: between `.trees`
/// and a hidden name in `ROOT/NAME` while its top is writable by its owner,
/// and between the hidden name and REV sealed, which needs no permission
/// on the tree at all. A tree is therefore never writable at
/// `ROOT/NAME/REV`, and a kill between the two leaves it under the hidden
/// name, where no job looks for it, until recovery seals it and puts it
/// at REV (`Root.settleTransit`): install's recovery then adopts it, gc's
/// returns it to `ready`, and doctor's adopts one whose row is gone. A
/// hidden name is never a rev: revs start with a letter or digit.
enum Transit: String, CaseIterable, Sendable {
    /// Installed and sealed below its top, on its way from staging (`.REV.arriving`).
    case arriving
    /// Condemned with nothing running from it, on its way to the trash (`.REV.leaving`).
    case leaving

    func name(_ rev: Rev) -> String { ".\(rev.value).\(rawValue)" }

    /// The rev and direction of a hidden name, if it is one.
    static func parse(_ name: String) -> (Rev, Transit)? {
        guard name.hasPrefix(".") else { return nil }
        for way in allCases where name.hasSuffix("." + way.rawValue) {
            let text = String(name.dropFirst().dropLast(way.rawValue.count + 1))
            if Rev.isValid(text), let rev = try? Rev(text) { return (rev, way) }
        }
        return nil
    }

    /// Takes the write bits off a tree's top (the rest was sealed in staging),
    /// durably, before it is named REV.
    static func seal(_ tree: Directory) throws {
        let st = try tree.status()
        let sealed = sealedMode(st.st_mode)
        if st.st_mode & 0o7777 != sealed {
            try syscall("cannot make read-only", tree.path) { fchmod(tree.fd, sealed) }
        }
        try tree.sync()
    }

    /// Gives a tree's top its owner's write bit back, so that it may be moved into the trash.
    static func unseal(_ tree: Directory) throws {
        let st = try tree.status()
        try syscall("cannot make writable for deletion", tree.path) { fchmod(tree.fd, st.st_mode & 0o7777 | 0o200) }
    }
}

extension Root {
    /// Finishes a crossing a killed install or gc left half done: seals the
    /// tree at `ROOT/NAME/.REV.WAY` and renames it to REV. Call with the lock
    /// of the command that moves trees that way held (install's for
    /// `arriving`, gc's for `leaving`), so no live command is between its
    /// two renames.
    /// - Returns: whether a tree was put at REV; false when there is none in
    ///   transit, or REV is taken (doctor reports both names then).
    @discardableResult
    func settleTransit(_ ref: TreeRef, _ way: Transit) throws -> Bool {
        guard let nameDir = try nameDirectory(ref.name) else { return false }
        let hidden = way.name(ref.rev)
        guard try isRealDirectory(nameDir, hidden), try !nameDir.exists(ref.rev.value) else { return false }
        try Transit.seal(try nameDir.openDirectory(hidden))
        try syscall("cannot move into place", treePath(ref)) {
            CT_renameat_noreplace(nameDir.fd, hidden, nameDir.fd, ref.rev.value)
        }
        try nameDir.sync()
        return true
    }
}

/// The mode a sealed entry of a tree keeps: no write, setuid or setgid bits.
/// Sealing (here) and the manifest (which records modes as sealing leaves
/// them) must agree, so both use this.
func sealedMode(_ mode: mode_t) -> mode_t { mode & 0o7555 & ~0o6000 }
