// launch: runs ARGV as its child and writes to fd 3 what wait4(2) says of it:
//   WALL_SECONDS USER_SECONDS SYSTEM_SECONDS MAXRSS_KIB OUBLOCK STATUS
// Why: Linux charges a process's peak RSS (ru_maxrss) with the peak of the
// address space it replaced at execve, which for a child started by
// posix_spawn (vfork) or fork is its parent's. Started straight from
// trees-bench, every command would report at least trees-bench's own peak
// (tens of MiB after generating a large tree); started from this program it
// reports at least this program's (about 1 MiB). The wall time is taken
// here, around fork and wait4, so this program's own start costs nothing.
// Built by trees-bench with `cc -O2`. Usage: launch ARGV... 3>REPORT
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: launch ARGV... 3>REPORT\n");
        return 64;
    }
    fcntl(3, F_SETFD, FD_CLOEXEC);   // the command never sees the report pipe
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    pid_t pid = vfork();
    if (pid < 0) { perror("vfork"); return 71; }
    if (pid == 0) {
        execvp(argv[1], argv + 1);
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR) { perror("wait4"); return 71; }
    clock_gettime(CLOCK_MONOTONIC, &end);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    double wall = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    dprintf(3, "%.9f %ld.%06ld %ld.%06ld %ld %ld %d\n", wall,
            (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec, (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec,
            ru.ru_maxrss, ru.ru_oublock, code);
    return 0;
}
