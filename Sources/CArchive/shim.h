#include <archive.h>
#include <archive_entry.h>
/* libarchive does not check the gzip trailer (CRC-32 and length), so trees
   inflates gzip streams itself once to verify them. */
#include <zlib.h>
