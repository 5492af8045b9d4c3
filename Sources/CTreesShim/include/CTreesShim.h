#ifndef CTREES_SHIM_H
#define CTREES_SHIM_H
#include <stdint.h>
#include <sys/types.h>

// Thin wrappers for Linux system calls that Swift's Glibc module does not
// export (or exports only behind _GNU_SOURCE). Each returns -1 and leaves
// errno set on failure, exactly like the call it wraps.

/// renameat2(2) with RENAME_NOREPLACE: fails with EEXIST instead of replacing.
int CT_renameat_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);

/// renameat2(2) with RENAME_EXCHANGE.
int CT_renameat_exchange(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);

/// pidfd_open(2); returns a pidfd (O_CLOEXEC is implied by the kernel).
int CT_pidfd_open(pid_t pid, unsigned int flags);

/// Whether the entry at dirfd/path is the root of a mount (statx STATX_ATTR_MOUNT_ROOT).
/// Returns 1 if yes, 0 if no, -1 with errno on failure (ENOSYS/EINVAL: unknown).
int CT_is_mount_root(int dirfd, const char *path);

/// The unique 64-bit mount id (statx STATX_MNT_ID) of dirfd/path, or -1 with errno.
int64_t CT_mount_id(int dirfd, const char *path);

/// copy_file_range(2) with no offsets (both descriptors' positions advance).
ssize_t CT_copy_file_range(int fd_in, int fd_out, size_t len);

/// getrandom(2) into buf; returns bytes written or -1.
ssize_t CT_getrandom(void *buf, size_t len);

/// Whether fd lives on pidfs (fstatfs f_type == PIDFS_MAGIC): 1 yes, 0 no, -1 error.
int CT_fd_is_pidfs(int fd);

/// kcmp(2): 0 when pid1's and pid2's resources of `type` (KCMP_FILES 2,
/// KCMP_FS 3) are the same object, 1/2/3 when they differ, -1 with errno
/// (EPERM without ptrace access to both, ENOSYS where the kernel lacks it).
int CT_kcmp(pid_t pid1, pid_t pid2, int type, unsigned long idx1, unsigned long idx2);

/// statx(2) of the open descriptor itself (AT_EMPTY_PATH): device (as
/// st_dev encodes it), inode, mount id and whether it is a mount's root
/// (STATX_ATTR_MOUNT_ROOT). One call where fstat gave only the first two.
/// *mount_root is -1 when the kernel does not say. 0, or -1 with errno.
int CT_statx_identity(int fd, uint64_t *dev, uint64_t *ino, uint64_t *mnt_id, int *mount_root);

/// openat2(2) with a zero mode: `flags` as for openat, `resolve` the
/// RESOLVE_* bits (RESOLVE_IN_ROOT 0x10). -1 with errno (ENOSYS before 5.6).
int CT_openat2(int dirfd, const char *path, uint64_t flags, uint64_t resolve);

#endif
