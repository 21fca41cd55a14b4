// Building and replacing an index without blocking writers: CREATE INDEX
// CONCURRENTLY, or on a partitioned table an index ON ONLY the table plus
// each partition's index built concurrently and attached. Every step finds
// what an interrupted run left (an invalid index is dropped and built
// again), so a rerun continues where the last one stopped.
//
// Throwing: functions taking a Tx& throw libpqxx exceptions into the Db call
// they run inside (see db.h); the others never throw (those reaching the
// store return a status).
#ifndef MIGRATOR_STATUS_ENUM_INDEX_BUILD_H_
#define MIGRATOR_STATUS_ENUM_INDEX_BUILD_H_

#include <string>

#include "absl/status/status.h"
#include "migrator/status_enum/context.h"

namespace booking::migrator {

// Builds index `raw_name` like `o` (its table, uniqueness, partitions) from
// `tail` ("USING btree (...) WHERE ..."); each partition's index is named
// after the original child index with `child_suffix`.
absl::Status BuildIndex(PhaseContext& ctx, const PlanObject& o, const std::string& raw_name,
                        const std::string& tail, const std::string& child_suffix);

// Drops index `raw_name` of `o`'s table if it exists (CONCURRENTLY unless
// partitioned).
absl::Status DropIndexIfExists(PhaseContext& ctx, const PlanObject& o, const std::string& raw_name);

// In `tx`: renames index `from_raw` (built with `child_suffix` children) to
// `o`'s own names, children included.
void RenameBuiltIndex(Tx& tx, const PlanObject& o, const std::string& from_raw,
                      const std::string& child_suffix);

// True when index `raw_name` exists next to `o`'s table.
bool IndexExists(Tx& tx, const PlanObject& o, const std::string& raw_name);

// "schema.name" for an object named `raw` in the schema of `table`.
std::string Sibling(Tx& tx, const std::string& table, const std::string& raw);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_INDEX_BUILD_H_
