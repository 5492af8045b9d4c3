#if canImport(Glibc)
import Glibc
#endif

/// `ROOT/NAME/current`, read. Activation moves the link; everything that
/// only needs to know where it points (gc, list, metrics, leases, doctor)
/// reads it here, from the disk layout alone.
extension Root {
    /// The rev `ROOT/NAME/current` points at, or nil when there is none.
    /// A link whose target is not a plain valid rev is reported, not followed.
    public func currentRev(of name: TreeName) throws -> Rev? {
        guard let nameDir = try nameDirectory(name) else { return nil }
        return try Root.currentRev(in: nameDir)
    }

    /// The same, read in an open `ROOT/NAME`.
    static func currentRev(in nameDir: Directory) throws -> Rev? {
        let target: String
        do {
            target = try nameDir.readLink("current")
        } catch let e as TreesError where e.errno == .noSuchFileOrDirectory {
            return nil
        } catch let e as TreesError where e.errno == .invalidArgument {
            throw TreesError(.failure, "\(nameDir.path)/current is not a symlink",
                             hint: "Move it away; trees manages this link itself.")
        }
        guard Rev.isValid(target), let rev = try? Rev(target) else {
            throw TreesError(.failure, "\(nameDir.path)/current points at \(quoted(target)), which is not a revision",
                             hint: "Run `trees activate NAME@REV` to point it at an installed tree.")
        }
        return rev
    }
}
