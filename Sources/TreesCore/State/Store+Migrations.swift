extension Store {
    /// Forward-only migrations; `PRAGMA user_version` is the index of the
    /// last one applied. Never edit one that has shipped: append a new one.
    static let migrations: [String] = [
        """
        CREATE TABLE trees (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            rev TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('installing','ready','condemned','deleting','deleted')),
            path TEXT NOT NULL,
            installed_at INTEGER,
            activated_at INTEGER,
            deactivated_at INTEGER,
            bytes INTEGER NOT NULL DEFAULT 0,
            files INTEGER NOT NULL DEFAULT 0,
            digest TEXT,
            pinned INTEGER NOT NULL DEFAULT 0,
            state_changed_at INTEGER,
            deleted_at INTEGER,
            delete_reason TEXT,
            bytes_freed INTEGER,
            UNIQUE (name, rev)
        );
        CREATE TABLE manifests (
            tree_id INTEGER PRIMARY KEY REFERENCES trees(id) ON DELETE CASCADE,
            body BLOB NOT NULL
        );
        CREATE TABLE leases (
            id TEXT PRIMARY KEY,
            tree_id INTEGER NOT NULL REFERENCES trees(id),
            boot_id TEXT NOT NULL,
            pid INTEGER NOT NULL,
            start_time INTEGER NOT NULL,
            pidfd_inode INTEGER,
            uid INTEGER,
            acquired_at INTEGER NOT NULL,
            command TEXT
        );
        CREATE INDEX leases_tree ON leases(tree_id);
        CREATE TABLE history (
            id INTEGER PRIMARY KEY,
            at INTEGER NOT NULL,
            name TEXT NOT NULL,
            rev TEXT NOT NULL,
            event TEXT NOT NULL,
            previous TEXT,
            detail TEXT
        );
        CREATE INDEX history_name ON history(name, id);
        """,
        // 2: the job's own cgroup (`trees exec --cgroup`), relative to the cgroup v2 mount.
        "ALTER TABLE leases ADD COLUMN cgroup TEXT;",
        // 3: counters that outlive the rows they count (gc runs, bytes freed,
        // refused leases) for `trees metrics`; history pruned by age (`trees log`).
        """
        CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX history_at ON history(at);
        """,
        // 4: a release's verdict beside its state (issue 16): who judged it, when and why.
        """
        ALTER TABLE trees ADD COLUMN verdict TEXT NOT NULL DEFAULT 'unverified'
            CHECK (verdict IN ('unverified','good','bad'));
        ALTER TABLE trees ADD COLUMN verdict_by TEXT;
        ALTER TABLE trees ADD COLUMN verdict_at INTEGER;
        ALTER TABLE trees ADD COLUMN verdict_reason TEXT;
        """,
        // 5: shared writable paths (`trees shared NAME add PATH`), linked into
        // every new tree of NAME and kept at ROOT/NAME/shared/PATH.
        """
        CREATE TABLE shared_paths (
            name TEXT NOT NULL,
            path TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('directory','file')),
            uid INTEGER,
            gid INTEGER,
            mode INTEGER NOT NULL,
            seed INTEGER NOT NULL DEFAULT 0,
            declared_at INTEGER NOT NULL,
            PRIMARY KEY (name, path)
        );
        """,
        // 6: drains (`trees drain`): a release's own protocol, kept from its
        // install; the schedule of a drain under way (when it began, which
        // steps were sent when, which `trees drain` process runs it) and
        // every process each step signalled, so a re-run resumes it and
        // signals nobody twice.
        """
        ALTER TABLE trees ADD COLUMN drain_protocol TEXT;
        CREATE TABLE drains (
            tree_id INTEGER PRIMARY KEY REFERENCES trees(id) ON DELETE CASCADE,
            protocol TEXT NOT NULL,
            started_at INTEGER NOT NULL,
            finished_at INTEGER,
            runner_boot_id TEXT,
            runner_pid INTEGER,
            runner_start_time INTEGER
        );
        CREATE TABLE drain_steps (
            tree_id INTEGER NOT NULL REFERENCES drains(tree_id) ON DELETE CASCADE,
            step INTEGER NOT NULL,
            sent_at INTEGER NOT NULL,
            PRIMARY KEY (tree_id, step)
        );
        CREATE TABLE drain_signals (
            tree_id INTEGER NOT NULL REFERENCES drains(tree_id) ON DELETE CASCADE,
            step INTEGER NOT NULL,
            boot_id TEXT NOT NULL,
            pid INTEGER NOT NULL,
            start_time INTEGER NOT NULL,
            at INTEGER NOT NULL,
            PRIMARY KEY (tree_id, step, boot_id, pid, start_time)
        );
        """,
    ]
}
