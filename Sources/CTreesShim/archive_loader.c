// libarchive through dlopen(3), on first use. Linking it made every process
// load libarchive and the eleven libraries it needs (libxml2, ICU, nettle,
// liblzma, ...), about 5 ms of `trees exec`'s start-up, although only
// `install` of an archive ever calls it. The functions are those listed in
// include/archive_functions.h; each CT_ function forwards to the real one.
#define _GNU_SOURCE
#include "CTreesShim.h"
#include <archive.h>
#include <archive_entry.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

// archive.h is read for its types only (nothing here calls libarchive
// directly, so nothing links it): the list must agree with it.
#define CHECK(ret, name, params, args) \
    _Static_assert(__builtin_types_compatible_p(__typeof__(&name), ret(*) params), \
                   #name " in archive_functions.h differs from archive.h");
CT_ARCHIVE_ENTRY_POINT(CHECK)
CT_ARCHIVE_FUNCTIONS(CHECK)

#define POINTER(ret, name, params, args) static ret(*p_##name) params;
CT_ARCHIVE_ENTRY_POINT(POINTER)
CT_ARCHIVE_FUNCTIONS(POINTER)

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
    CT_ARCHIVE_ENTRY_POINT(RESOLVE)
    CT_ARCHIVE_FUNCTIONS(RESOLVE)
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
CT_ARCHIVE_FUNCTIONS(FORWARD)
