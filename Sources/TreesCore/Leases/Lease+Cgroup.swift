/// A lease's job cgroup, judged by `Cgroup` (the scan's folder knows no
/// leases; leases know their cgroup).
extension Lease {
    /// The recorded cgroup, if `trees exec` could have made it for this lease's tree.
    var validJobCgroup: String? { Cgroup.validJobCgroup(cgroup, for: tree) }
}

extension Cgroup {
    /// Removes the job cgroups of `leases` that are empty; returns the ids
    /// of the leases whose cgroup still holds processes, so a caller can
    /// keep their rows until it empties.
    @discardableResult
    public static func removeEmptyJobCgroups(leases: [Lease], procRoot: String = "/proc") -> Set<String> {
        removeEmpty(leases.compactMap { lease in lease.validJobCgroup.map { (lease.id, $0) } }, procRoot: procRoot)
    }
}
