#include <sqlite3.h>

// sqlite3_db_config is variadic, which Swift cannot call: one form of it
// for the options that take an int and report nothing back.
static inline int CT_sqlite3_db_config_int(sqlite3 *db, int op, int value) {
    return sqlite3_db_config(db, op, value, (int *)0);
}
