#define _GNU_SOURCE
#include "CTreesShim.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

int CT_renameat_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
    return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, RENAME_NOREPLACE);
}

int CT_renameat_exchange(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
    return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, RENAME_EXCHANGE);
}

int CT_pidfd_open(pid_t pid, unsigned int flags) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, flags);
#else
    errno = ENOSYS;
    return -1;
#endif
}

int CT_pidfd_send_signal(int pidfd, int sig) {
#ifdef SYS_pidfd_send_signal
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

int CT_is_mount_root(int dirfd, const char *path) {
#ifdef STATX_ATTR_MOUNT_ROOT
    struct statx stx;
    if (statx(dirfd, path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_BASIC_STATS, &stx) != 0)
        return -1;
    if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) {
        errno = EINVAL;
        return -1;
    }
    return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) ? 1 : 0;
#else
    errno = ENOSYS;
    return -1;
#endif
}

int64_t CT_mount_id(int dirfd, const char *path) {
#ifdef STATX_MNT_ID
    struct statx stx;
    if (statx(dirfd, path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_MNT_ID, &stx) != 0)
        return -1;
    if (!(stx.stx_mask & STATX_MNT_ID)) {
        errno = EINVAL;
        return -1;
    }
    return (int64_t)stx.stx_mnt_id;
#else
    errno = ENOSYS;
    return -1;
#endif
}

ssize_t CT_copy_file_range(int fd_in, int fd_out, size_t len) {
    return copy_file_range(fd_in, NULL, fd_out, NULL, len, 0);
}

ssize_t CT_getrandom(void *buf, size_t len) {
    return getrandom(buf, len, 0);
}

int CT_fd_is_pidfs(int fd) {
    struct statfs fs;
    if (fstatfs(fd, &fs) != 0)
        return -1;
    return fs.f_type == 0x50494446 /* PIDFS_MAGIC */ ? 1 : 0;
}

int CT_kcmp(pid_t pid1, pid_t pid2, int type, unsigned long idx1, unsigned long idx2) {
#ifdef SYS_kcmp
    return (int)syscall(SYS_kcmp, pid1, pid2, type, idx1, idx2);
#else
    errno = ENOSYS;
    return -1;
#endif
}

int CT_syncfs(int fd) {
    return syncfs(fd);
}

int CT_statx_identity(int fd, uint64_t *dev, uint64_t *ino, uint64_t *mnt_id, int *mount_root) {
#ifdef SYS_statx
    struct statx sx;
    // STATX_INO | STATX_MNT_ID (0x1000); AT_STATX_DONT_SYNC: no network round trip.
    if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH | 0x4000, 0x100 | 0x1000, &sx) != 0) return -1;
    *dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
    *ino = sx.stx_ino;
    *mnt_id = (sx.stx_mask & 0x1000) ? sx.stx_mnt_id : 0;
    // STATX_ATTR_MOUNT_ROOT 0x2000, reported only where attributes_mask has it.
    *mount_root = (sx.stx_attributes_mask & 0x2000) ? ((sx.stx_attributes & 0x2000) != 0) : -1;
    return 0;
#else
    errno = ENOSYS;
    return -1;
#endif
}

int CT_statx_reference(int dirfd, const char *path, uint64_t *dev, uint64_t *ino, uint64_t *mnt_id,
                       uint32_t *nlink, uint32_t *mode) {
#ifdef SYS_statx
    struct statx sx;
    // STATX_TYPE | STATX_NLINK | STATX_INO | STATX_MNT_ID; 0x4000 AT_STATX_DONT_SYNC, 0x800 AT_NO_AUTOMOUNT.
    if (syscall(SYS_statx, dirfd, path, 0x4000 | 0x800, 0x1 | 0x4 | 0x100 | 0x1000, &sx) != 0) return -1;
    *dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
    *ino = sx.stx_ino;
    *mnt_id = (sx.stx_mask & 0x1000) ? sx.stx_mnt_id : 0;
    *nlink = sx.stx_nlink;
    *mode = sx.stx_mode;
    return 0;
#else
    errno = ENOSYS;
    return -1;
#endif
}

int CT_loop_backing(const char *device, uint64_t *dev, uint64_t *ino) {
    struct loop_info64 info;
    int fd = open(device, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return -1;
    int rc = ioctl(fd, LOOP_GET_STATUS64, &info);
    int saved = errno;
    close(fd);
    if (rc != 0) { errno = saved; return -1; }
    // The kernel encodes the device as new_encode_dev(): minor's low byte,
    // then major, then minor's high bits.
    unsigned major = (unsigned)((info.lo_device & 0xfff00) >> 8);
    unsigned minor = (unsigned)((info.lo_device & 0xff) | ((info.lo_device >> 12) & 0xfff00));
    *dev = makedev(major, minor);
    *ino = info.lo_inode;
    return 0;
}

struct ct_open_how { uint64_t flags; uint64_t mode; uint64_t resolve; };

int CT_openat2(int dirfd, const char *path, uint64_t flags, uint64_t resolve) {
#ifdef SYS_openat2
    struct ct_open_how how = { flags, 0, resolve };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
#else
    errno = ENOSYS;
    return -1;
#endif
}
