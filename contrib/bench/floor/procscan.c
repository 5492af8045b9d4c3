// procscan: the C floor for `trees ps`. One pass over /proc doing the same
// reads trees does for every process (stat, cmdline, exe, cwd, root, every
// fd, maps, environ, cgroup) and printing "PID" for each process that shows
// a path under ROOT. No parsing beyond what matching needs, no database, no
// output formatting: what a scan cannot go below. Built by trees-bench with
// `cc -O2`. Usage: procscan ROOT
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char root[4096];
static size_t rootlen;
static char buf[1 << 20];

static int under(const char *p, size_t n) {
    return n >= rootlen && memcmp(p, root, rootlen) == 0 && (n == rootlen || p[rootlen] == '/');
}

static ssize_t slurp(int dirfd, const char *name) {
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t total = 0, n;
    while (total < (ssize_t)sizeof buf - 1 && (n = read(fd, buf + total, sizeof buf - 1 - total)) > 0) total += n;
    close(fd);
    buf[total < 0 ? 0 : total] = 0;
    return total;
}

static int link_under(int dirfd, const char *name) {
    char target[4096];
    ssize_t n = readlinkat(dirfd, name, target, sizeof target);
    return n > 0 && under(target, (size_t)n);
}

// Any occurrence of ROOT followed by '/' or the end of a string in buf[0..n).
static int mentions(ssize_t n) {
    for (ssize_t i = 0; i + (ssize_t)rootlen <= n; i++) {
        if (buf[i] == root[0] && memcmp(buf + i, root, rootlen) == 0) {
            char c = i + (ssize_t)rootlen < n ? buf[i + rootlen] : 0;
            if (c == '/' || c == 0 || c == '\n' || c == ' ') return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2 || !realpath(argv[1], root)) {
        fprintf(stderr, "usage: procscan ROOT\n");
        return 64;
    }
    rootlen = strlen(root);
    DIR *proc = opendir("/proc");
    if (!proc) { perror("/proc"); return 1; }
    struct dirent *e;
    while ((e = readdir(proc))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        int pd = openat(dirfd(proc), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pd < 0) continue;
        int hit = 0;
        slurp(pd, "stat");
        ssize_t n = slurp(pd, "cmdline");
        if (n > 0 && mentions(n)) hit = 1;
        if (link_under(pd, "exe")) hit = 1;
        if (link_under(pd, "cwd")) hit = 1;
        if (link_under(pd, "root") && rootlen > 1) hit = 1;
        int fdd = openat(pd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fdd >= 0) {
            DIR *fds = fdopendir(fdd);
            struct dirent *f;
            while (fds && (f = readdir(fds)))
                if (f->d_name[0] != '.' && link_under(dirfd(fds), f->d_name)) hit = 1;
            if (fds) closedir(fds); else close(fdd);
        }
        n = slurp(pd, "maps");
        if (n > 0 && mentions(n)) hit = 1;
        n = slurp(pd, "environ");
        if (n > 0 && mentions(n)) hit = 1;
        slurp(pd, "cgroup");
        close(pd);
        if (hit) printf("%s\n", e->d_name);
    }
    closedir(proc);
    return 0;
}
