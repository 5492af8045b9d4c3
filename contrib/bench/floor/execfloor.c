// execfloor: the C floor for `trees exec NAME -- CMD`. The same work trees
// exec does on a job's path (Sources/TreesCore/Leases/JobLauncher.swift,
// TreeLock.swift, Leases.swift, Store+Leases.swift), done minimally:
//   1. resolve ROOT/NAME/current once (readlink) and check the tree is there;
//   2. take ROOT/.trees/leases/NAME@REV.lock shared (flock), kept across execve;
//   3. identify this process as a lease does: boot id, start time from
//      /proc/self/stat, pidfd inode;
//   4. open ROOT/.trees/state.db (WAL kept, no checkpoint on close), take
//      ROOT/.trees/write.lock exclusive, and in one BEGIN IMMEDIATE with
//      synchronous = NORMAL read the tree's state and drain and insert one
//      lease row;
//   5. set TREES_* in the environment, chdir into the tree and execv CMD.
// No argument parsing beyond this, no migrations, no error messages worth
// the name: what exec cannot go below. Built by trees-bench with
// `cc -O2 execfloor.c -lsqlite3`. Usage: execfloor ROOT NAME CMD [ARGS...]
#define _GNU_SOURCE
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int die(const char *what) {
    perror(what);
    return 1;
}

static long long start_time(void) {
    char buf[4096];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    // Fields after the command name, counted from its last ')': starttime is field 22.
    char *p = strrchr(buf, ')');
    if (!p) return 0;
    int field = 2;
    for (; *p && field < 22; p++) if (*p == ' ') field++;
    return atoll(p);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: execfloor ROOT NAME CMD [ARGS...]\n");
        return 64;
    }
    const char *root = argv[1], *name = argv[2];
    char path[4096], rev[256], ref[512], tree[4096];

    snprintf(path, sizeof path, "%s/%s/current", root, name);
    ssize_t n = readlink(path, rev, sizeof rev - 1);
    if (n <= 0) return die(path);
    rev[n] = 0;
    snprintf(ref, sizeof ref, "%s@%s", name, rev);
    snprintf(tree, sizeof tree, "%s/%s/%s", root, name, rev);
    struct stat st;
    if (stat(tree, &st) != 0) return die(tree);

    snprintf(path, sizeof path, "%s/.trees/leases/%s.lock", root, ref);
    int lock = open(path, O_RDONLY | O_CREAT | O_NOFOLLOW, 0640);   // no O_CLOEXEC: the job keeps it
    if (lock < 0 || flock(lock, LOCK_SH) != 0) return die(path);

    char boot[64] = "";
    int bfd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (bfd >= 0) {
        ssize_t b = read(bfd, boot, sizeof boot - 1);
        close(bfd);
        if (b > 0) boot[b - (boot[b - 1] == '\n')] = 0;
    }
    long long started = start_time();
    long long pidfd_inode = -1;
    int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (pidfd >= 0) {
        if (fstat(pidfd, &st) == 0) pidfd_inode = (long long)st.st_ino;
        close(pidfd);
    }
    unsigned char random[8];
    char id[17];
    if (getrandom(random, sizeof random, 0) != sizeof random) return die("getrandom");
    for (int i = 0; i < 8; i++) sprintf(id + 2 * i, "%02x", random[i]);

    snprintf(path, sizeof path, "%s/.trees/state.db", root);
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) return die(path);
    sqlite3_busy_timeout(db, 30000);
    int persist = 1;
    sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)0);
    snprintf(path, sizeof path, "%s/.trees/write.lock", root);
    int wlock = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
    if (wlock < 0 || flock(wlock, LOCK_EX) != 0) return die(path);

    sqlite3_stmt *s = NULL;
    int ok = sqlite3_exec(db, "PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE", 0, 0, 0) == SQLITE_OK
        && sqlite3_prepare_v2(db, "SELECT id, state FROM trees WHERE name = ? AND rev = ?", -1, &s, 0) == SQLITE_OK;
    long long tree_id = -1;
    if (ok) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, rev, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(s, 1), "ready") == 0)
            tree_id = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
        ok = tree_id >= 0 && sqlite3_prepare_v2(db, "SELECT 1 FROM drains WHERE tree_id = ?", -1, &s, 0) == SQLITE_OK;
    }
    if (ok) {
        sqlite3_bind_int64(s, 1, tree_id);
        ok = sqlite3_step(s) == SQLITE_DONE;   // a row: being drained, no new lease
        sqlite3_finalize(s);
        ok = ok && sqlite3_prepare_v2(db,
            "INSERT INTO leases (id, tree_id, boot_id, pid, start_time, pidfd_inode, uid, acquired_at, command) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &s, 0) == SQLITE_OK;
    }
    if (ok) {
        sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, tree_id);
        sqlite3_bind_text(s, 3, boot, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 4, getpid());
        sqlite3_bind_int64(s, 5, started);
        if (pidfd_inode >= 0) sqlite3_bind_int64(s, 6, pidfd_inode); else sqlite3_bind_null(s, 6);
        sqlite3_bind_int64(s, 7, getuid());
        sqlite3_bind_int64(s, 8, (long long)time(NULL));
        sqlite3_bind_text(s, 9, argv[3], -1, SQLITE_STATIC);
        ok = sqlite3_step(s) == SQLITE_DONE;
        sqlite3_finalize(s);
    }
    if (!ok || sqlite3_exec(db, "COMMIT", 0, 0, 0) != SQLITE_OK) {
        fprintf(stderr, "execfloor: %s: %s\n", ref, sqlite3_errmsg(db));
        return 75;
    }
    sqlite3_close_v2(db);
    close(wlock);

    setenv("TREES_ROOT", root, 1);
    setenv("TREES_TREE", ref, 1);
    setenv("TREES_TREE_PATH", tree, 1);
    setenv("TREES_LEASE", id, 1);
    snprintf(path, sizeof path, "%s/%s/shared", root, name);
    setenv("TREES_SHARED", path, 1);
    if (chdir(tree) != 0) return die(tree);
    execv(argv[3], argv + 3);
    return die(argv[3]) + 126;
}
