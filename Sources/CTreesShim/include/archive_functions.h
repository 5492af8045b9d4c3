#ifndef CTREES_ARCHIVE_FUNCTIONS_H
#define CTREES_ARCHIVE_FUNCTIONS_H

// Every libarchive function trees calls, once: X(return type, name,
// parameters, arguments). CTreesShim.h declares a CT_<name> for each,
// archive_loader.c resolves each with dlsym(3) and defines CT_<name> to
// forward to it, and Swift calls CT_<name>. A new libarchive call is one
// line here. The types match archive.h on Linux (la_int64_t is int64_t,
// la_ssize_t is ssize_t, mode_t is unsigned int).
//
// archive_read_new is apart: it is the one entry point, so its CT_ form
// loads the library first (every other function takes the archive it made).
#define CT_ARCHIVE_ENTRY_POINT(X) \
    X(struct archive *, archive_read_new, (void), ())

#define CT_ARCHIVE_FUNCTIONS(X) \
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
    X(int, archive_read_open, (struct archive *a, void *client, int (*opener)(struct archive *, void *), ssize_t (*reader)(struct archive *, void *, const void **), int (*closer)(struct archive *, void *)), (a, client, opener, reader, closer)) \
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

#endif
