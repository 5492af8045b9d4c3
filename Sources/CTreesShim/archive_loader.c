// libarchive through dlopen(3), on first use. Linking it made every process
// load libarchive and the eleven libraries it needs (libxml2, ICU, nettle,
// liblzma, ...), about 5 ms of `trees exec`'s start-up, although only
// `install` of an archive ever calls it. Each CT_ function forwards to the
// real one; the types match archive.h on Linux (la_int64_t is int64_t,
// la_ssize_t is ssize_t, mode_t is unsigned int).
#define _GNU_SOURCE
#include "CTreesShim.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define ARCHIVE_FUNCTIONS(X) \
    X(int, archive_read_free, (struct archive *a), (a)) \
    X(int, archive_read_close, (struct archive *a), (a)) \
    X(int, archive_read_support_format_raw, (struct archive *a), (a)) \
    X(int, archive_read_open_filename, (struct archive *a, const char *path, size_t block_size), (a, path, block_size)) \
    X(int, archive_read_support_filter_all, (struct archive *a), (a)) \
    X(int, archive_read_support_filter_gzip, (struct archive *a), (a)) \
    X(int, archive_read_support_filter_xz, (struct archive *a), (a)) \
    X(int, archive_read_support_filter_zstd, (struct archive *a), (a)) \
    X(int, archive_read_support_filter_bzip2, (struct archive *a), (a)) \
    X(int, archive_read_support_format_tar, (struct archive *a), (a)) \
    X(int, archive_read_support_format_all, (struct archive *a), (a)) \
    X(int, archive_read_open_fd, (struct archive *a, int fd, size_t block_size), (a, fd, block_size)) \
    X(int, archive_read_next_header, (struct archive *a, struct archive_entry **entry), (a, entry)) \
    X(ssize_t, archive_read_data, (struct archive *a, void *buffer, size_t size), (a, buffer, size)) \
    X(int, archive_read_data_block, (struct archive *a, const void **buffer, size_t *size, int64_t *offset), (a, buffer, size, offset)) \
    X(int, archive_read_data_skip, (struct archive *a), (a)) \
    X(const char *, archive_error_string, (struct archive *a), (a)) \
    X(int, archive_errno, (struct archive *a), (a)) \
    X(const char *, archive_entry_pathname, (struct archive_entry *e), (e)) \
    X(const char *, archive_entry_hardlink, (struct archive_entry *e), (e)) \
    X(const char *, archive_entry_symlink, (struct archive_entry *e), (e)) \
    X(unsigned int, archive_entry_filetype, (struct archive_entry *e), (e)) \
    X(unsigned int, archive_entry_perm, (struct archive_entry *e), (e)) \
    X(unsigned int, archive_entry_mode, (struct archive_entry *e), (e)) \
    X(int64_t, archive_entry_size, (struct archive_entry *e), (e)) \
    X(int, archive_entry_size_is_set, (struct archive_entry *e), (e)) \
    X(int64_t, archive_entry_mtime, (struct archive_entry *e), (e))

#define POINTER(ret, name, params, args) static ret(*p_##name) params;
ARCHIVE_FUNCTIONS(POINTER)
static struct archive *(*p_archive_read_new)(void);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded = -1;
static char load_error[512];

static void load(void) {
    // The soname first (what the runtime package ships), then the
    // development link, for a build against another libarchive major.
    void *handle = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
    if (!handle) handle = dlopen("libarchive.so", RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror();
        snprintf(load_error, sizeof load_error, "cannot load libarchive: %s (install libarchive13)",
                 why ? why : "not found");
        loaded = 0;
        return;
    }
#define RESOLVE(ret, name, params, args)                                                        \
    if (!(*(void **)&p_##name = dlsym(handle, #name))) {                                       \
        snprintf(load_error, sizeof load_error, "libarchive has no %s; it is too old", #name); \
        loaded = 0;                                                                             \
        return;                                                                                 \
    }
    RESOLVE(struct archive *, archive_read_new, (void), ())
    ARCHIVE_FUNCTIONS(RESOLVE)
    loaded = 1;
}

int CT_archive_load(void) {
    pthread_once(&once, load);
    return loaded == 1 ? 0 : -1;
}

const char *CT_archive_load_error(void) {
    CT_archive_load();
    return loaded == 1 ? NULL : load_error;
}

// Only CT_archive_read_new can fail for want of the library; every other
// function takes an archive it returned, so the library is loaded by then.
struct archive *CT_archive_read_new(void) {
    return CT_archive_load() == 0 ? p_archive_read_new() : NULL;
}

#define FORWARD(ret, name, params, args) \
    ret CT_##name params { return p_##name args; }
ARCHIVE_FUNCTIONS(FORWARD)
