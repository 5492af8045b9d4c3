#ifndef CTREES_SHIM_H
#define CTREES_SHIM_H
#include <stdint.h>
#include <stddef.h>
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

/// pidfd_send_signal(2) with no siginfo and no flags: signals the process
/// the pidfd refers to, which a reused pid can never be.
int CT_pidfd_send_signal(int pidfd, int sig);

/// Whether the entry at dirfd/path is the root of a mount (statx STATX_ATTR_MOUNT_ROOT).
/// Returns 1 if yes, 0 if no, -1 with errno on failure (ENOSYS/EINVAL: unknown).
int CT_is_mount_root(int dirfd, const char *path);

/// The unique 64-bit mount id (statx STATX_MNT_ID) of dirfd/path, or -1 with errno.
int64_t CT_mount_id(int dirfd, const char *path);

/// copy_file_range(2) with no offsets (both descriptors' positions advance).
ssize_t CT_copy_file_range(int fd_in, int fd_out, size_t len);

/// syncfs(2): writes back the whole filesystem holding fd (errors since Linux 5.8).
int CT_syncfs(int fd);

/// getrandom(2) into buf; returns bytes written or -1.
ssize_t CT_getrandom(void *buf, size_t len);

/// Whether fd lives on pidfs (fstatfs f_type == PIDFS_MAGIC): 1 yes, 0 no, -1 error.
int CT_fd_is_pidfs(int fd);

/// kcmp(2): 0 when pid1's and pid2's resources of `type` (KCMP_FILES 2,
/// KCMP_FS 3) are the same object, 1/2/3 when they differ, -1 with errno
/// (EPERM without ptrace access to both, ENOSYS where the kernel lacks it).
int CT_kcmp(pid_t pid1, pid_t pid2, int type, unsigned long idx1, unsigned long idx2);
/// SHA-256 state; see sha256.c (SHA extensions where the CPU has them).
typedef struct {
    uint32_t state[8];
    uint64_t length;
    uint8_t buffer[64];
    uint32_t used;
} CT_sha256_ctx;

void CT_sha256_init(CT_sha256_ctx *ctx);
void CT_sha256_update(CT_sha256_ctx *ctx, const void *bytes, size_t count);
void CT_sha256_final(CT_sha256_ctx *ctx, uint8_t out[32]);
/// Tests call this with 1 to check the portable block function on x86-64 too.
void CT_sha256_force_portable(int on);

/// libarchive, loaded with dlopen(3) on first use so that commands that never
/// read an archive (exec, ps, list) do not load it and the libraries it pulls
/// in. Returns 0, or -1 with the reason in CT_archive_load_error().
int CT_archive_load(void);
const char *CT_archive_load_error(void);

struct archive;
struct archive_entry;
#include "archive_functions.h"
#define CT_ARCHIVE_DECLARE(ret, name, params, args) ret CT_##name params;
CT_ARCHIVE_ENTRY_POINT(CT_ARCHIVE_DECLARE)
CT_ARCHIVE_FUNCTIONS(CT_ARCHIVE_DECLARE)
#undef CT_ARCHIVE_DECLARE

/// statx(2) of the open descriptor itself (AT_EMPTY_PATH): device (as
/// st_dev encodes it), inode, mount id and whether it is a mount's root
/// (STATX_ATTR_MOUNT_ROOT). One call where fstat gave only the first two.
/// *mount_root is -1 when the kernel does not say. 0, or -1 with errno.
int CT_statx_identity(int fd, uint64_t *dev, uint64_t *ino, uint64_t *mnt_id, int *mount_root);
/// What a /proc link (`fd/N`, `exe`, `cwd`, `map_files/A-B`) refers to, by
/// `statx(2)` through the link with AT_STATX_DONT_SYNC and AT_NO_AUTOMOUNT:
/// the file's device (as st_dev), inode, mount id (0 when unknown), link
/// count and file type bits. Asks no FUSE daemon or NFS server for fresh
/// attributes. Returns 0, or -1 with errno set.
int CT_statx_reference(int dirfd, const char *path, uint64_t *dev, uint64_t *ino, uint64_t *mnt_id,
                       uint32_t *nlink, uint32_t *mode);
/// The file a bound loop device reads from, by LOOP_GET_STATUS64 on
/// `device` (e.g. /dev/loop3): its st_dev and inode. Returns 0, or -1 with
/// errno set (ENXIO: not bound).
int CT_loop_backing(const char *device, uint64_t *dev, uint64_t *ino);

/// openat2(2) with a zero mode: `flags` as for openat, `resolve` the
/// RESOLVE_* bits (RESOLVE_IN_ROOT 0x10). -1 with errno (ENOSYS before 5.6).
int CT_openat2(int dirfd, const char *path, uint64_t flags, uint64_t resolve);

#endif
