/// What a history entry records: one case per event any command writes,
/// so a reader sees every kind of entry in one place (and `trees log`
/// prints the raw value).
public enum HistoryEvent: String, Sendable, CaseIterable {
    case installed
    /// Activation's intent, written before `current` moves: for recovery,
    /// not for the reader (`history` hides it); its outcome follows it.
    case activating
    case activated
    /// A killed activation whose intent recovery found and undid.
    case activationUndone = "activation-undone"
    case rolledBack = "rolled-back"
    /// gc saw the tree stop being current (its grace period starts).
    case deactivated
    case deleted
    /// gc kept the tree for a reason that depends on what runs.
    case gcKept = "gc-kept"
    case leaseRefused = "lease-refused"
    case pinned, unpinned
    /// A verdict given (`mark`, `activate --check`, `rollback`); the detail says who and why.
    case markedGood = "marked-good"
    case markedBad = "marked-bad"
    /// `trees drain` began (detail: its protocol); new leases are refused from now on.
    case drainStarted = "drain-started"
    /// A drain sent a signal (detail: the signal, pid, start time, evidence or cgroup).
    case signalled
    /// Nothing runs from the tree any more: the drain is done (new leases are still refused).
    case drained
    /// `trees drain --cancel`: the drain's schedule is gone and leases are accepted again.
    case drainCancelled = "drain-cancelled"
}
