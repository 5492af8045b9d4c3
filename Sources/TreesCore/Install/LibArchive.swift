import CArchive
import CTreesShim

// libarchive is not linked (see Sources/CArchive/module.modulemap): these
// functions shadow the C declarations of the same names that `import
// CArchive` brings in, and forward to the dlopen-based `CT_archive_*` shims.
// A new libarchive call needs a line here and in archive_loader.c; the link
// fails (undefined reference) until it has one.

/// Why libarchive could not be loaded, or nil when it can be.
var libarchiveLoadError: String? { CT_archive_load_error().map { String(cString: $0) } }

func archive_read_new() -> OpaquePointer? { CT_archive_read_new() }
@discardableResult func archive_read_free(_ a: OpaquePointer?) -> Int32 { CT_archive_read_free(a) }
@discardableResult func archive_read_close(_ a: OpaquePointer?) -> Int32 { CT_archive_read_close(a) }
@discardableResult func archive_read_support_format_raw(_ a: OpaquePointer?) -> Int32 { CT_archive_read_support_format_raw(a) }
func archive_read_open_filename(_ a: OpaquePointer?, _ path: UnsafePointer<CChar>?, _ blockSize: Int) -> Int32 {
    CT_archive_read_open_filename(a, path, blockSize)
}
@discardableResult func archive_read_support_filter_all(_ a: OpaquePointer?) -> Int32 { CT_archive_read_support_filter_all(a) }
@discardableResult func archive_read_support_filter_gzip(_ a: OpaquePointer?) -> Int32 { CT_archive_read_support_filter_gzip(a) }
@discardableResult func archive_read_support_filter_xz(_ a: OpaquePointer?) -> Int32 { CT_archive_read_support_filter_xz(a) }
@discardableResult func archive_read_support_filter_zstd(_ a: OpaquePointer?) -> Int32 { CT_archive_read_support_filter_zstd(a) }
@discardableResult func archive_read_support_filter_bzip2(_ a: OpaquePointer?) -> Int32 { CT_archive_read_support_filter_bzip2(a) }
@discardableResult func archive_read_support_format_tar(_ a: OpaquePointer?) -> Int32 { CT_archive_read_support_format_tar(a) }
@discardableResult func archive_read_support_format_all(_ a: OpaquePointer?) -> Int32 { CT_archive_read_support_format_all(a) }
func archive_read_open_fd(_ a: OpaquePointer?, _ fd: Int32, _ blockSize: Int) -> Int32 { CT_archive_read_open_fd(a, fd, blockSize) }
func archive_read_next_header(_ a: OpaquePointer?, _ entry: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    CT_archive_read_next_header(a, entry)
}
func archive_read_data(_ a: OpaquePointer?, _ buffer: UnsafeMutableRawPointer?, _ size: Int) -> Int { CT_archive_read_data(a, buffer, size) }
func archive_read_data_block(_ a: OpaquePointer?, _ buffer: UnsafeMutablePointer<UnsafeRawPointer?>?,
                             _ size: UnsafeMutablePointer<Int>?, _ offset: UnsafeMutablePointer<Int64>?) -> Int32 {
    CT_archive_read_data_block(a, buffer, size, offset)
}
@discardableResult func archive_read_data_skip(_ a: OpaquePointer?) -> Int32 { CT_archive_read_data_skip(a) }
func archive_error_string(_ a: OpaquePointer?) -> UnsafePointer<CChar>? { CT_archive_error_string(a) }
func archive_errno(_ a: OpaquePointer?) -> Int32 { CT_archive_errno(a) }
func archive_entry_pathname(_ e: OpaquePointer?) -> UnsafePointer<CChar>? { CT_archive_entry_pathname(e) }
func archive_entry_hardlink(_ e: OpaquePointer?) -> UnsafePointer<CChar>? { CT_archive_entry_hardlink(e) }
func archive_entry_symlink(_ e: OpaquePointer?) -> UnsafePointer<CChar>? { CT_archive_entry_symlink(e) }
func archive_entry_filetype(_ e: OpaquePointer?) -> UInt32 { CT_archive_entry_filetype(e) }
func archive_entry_perm(_ e: OpaquePointer?) -> UInt32 { CT_archive_entry_perm(e) }
func archive_entry_mode(_ e: OpaquePointer?) -> UInt32 { CT_archive_entry_mode(e) }
func archive_entry_size(_ e: OpaquePointer?) -> Int64 { CT_archive_entry_size(e) }
func archive_entry_size_is_set(_ e: OpaquePointer?) -> Int32 { CT_archive_entry_size_is_set(e) }
func archive_entry_mtime(_ e: OpaquePointer?) -> Int64 { CT_archive_entry_mtime(e) }
