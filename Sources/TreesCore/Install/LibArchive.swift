import CTreesShim

// libarchive is not linked (see Sources/CArchive/module.modulemap): Swift
// calls the `CT_archive_*` forwarders that CTreesShim declares from its one
// list, Sources/CTreesShim/include/archive_functions.h, and takes only types
// and constants from `import CArchive`. Calling a function by its libarchive
// name fails the link (undefined reference): add it to that list instead.

/// Why libarchive could not be loaded, or nil when it can be.
var libarchiveLoadError: String? { CT_archive_load_error().map { String(cString: $0) } }
