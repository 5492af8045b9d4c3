// hold: a planted process for trees-bench's host workload. Uses a tree in
// exactly the way its options say, then waits to be killed (and dies with
// its parent, so a killed benchmark leaves nothing behind).
//   hold [-c DIR] [-o FILE] [-m FILE] [ARGS...]
//   -c DIR   chdir there (cwd evidence)      -o FILE  keep it open (fd)
//   -m FILE  map it (maps)                   ARGS     ignored (cmdline)
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "-c") == 0) {
            if (chdir(argv[++i]) != 0) { perror(argv[i]); return 1; }
        } else if (strcmp(argv[i], "-o") == 0) {
            if (open(argv[++i], O_RDONLY) < 0) { perror(argv[i]); return 1; }
        } else if (strcmp(argv[i], "-m") == 0) {
            int fd = open(argv[++i], O_RDONLY);
            if (fd < 0 || mmap(NULL, 1, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED) { perror(argv[i]); return 1; }
            close(fd);
        }
    }
    // Ready: the parent waits for this line before it measures anything.
    if (write(1, "r", 1) != 1) return 1;
    for (;;) pause();
}
