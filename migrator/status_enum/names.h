// Names of the objects the migrator creates beside the user's: deterministic
// (a rerun finds what an interrupted run made), within PostgreSQL's 63 bytes,
// never cutting a UTF-8 character.
#ifndef MIGRATOR_STATUS_ENUM_NAMES_H_
#define MIGRATOR_STATUS_ENUM_NAMES_H_

#include <string>

#include "absl/strings/string_view.h"

namespace booking::migrator {

// `raw` + `suffix`; when the whole would pass 63 bytes, `raw` shortened at a
// character boundary and followed by "_" and 8 hex digits of a hash of all
// of `raw`, so that names sharing a long prefix never collide.
std::string Suffixed(absl::string_view raw, absl::string_view suffix);

// The shadow of a column (its copy in the new type), the trigger keeping it
// in sync (named in its table), and the trigger's function (in the store's
// schema: a table of another schema adds its schema to the name).
std::string ShadowColumn(absl::string_view column);
std::string SyncTrigger(absl::string_view table_raw, absl::string_view column);
std::string SyncFunction(absl::string_view table_schema, absl::string_view store_schema,
                         absl::string_view table_raw, absl::string_view column);
std::string NotNullCheck(absl::string_view column);
// An index or constraint rebuilt for the next phase.
std::string NextName(absl::string_view raw);
// An index rebuilt in place with a wider (or narrower) predicate.
std::string WideName(absl::string_view raw);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_NAMES_H_
