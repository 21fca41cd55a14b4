// Retiring the old column's indexes before contract's swap. A transaction
// that drops an index frees the index's file at COMMIT; in the swap (DROP
// COLUMN takes the old column's indexes along) that happened under the
// table's ACCESS EXCLUSIVE lock and grew with the table (about 0.75 ms per
// MB of index on this machine: bench/README.md, "Contract"). So once an
// index's replacement on the shadow column ("<name>__next") is built and
// valid, the original is dropped CONCURRENTLY just before the swap, and the
// swap only renames the replacement.
//
// Not retired early (they go with the swap as before): an index of a
// partitioned table (no DROP INDEX CONCURRENTLY there). The inventory
// refuses constraint, unique-on-status, replica-identity and invalid
// indexes, so every index retired here is a plain one.
//
// An interrupted contract is recognised by the catalog alone: an index the
// recorded plan holds, absent (or left invalid by an interrupted DROP INDEX
// CONCURRENTLY) while its replacement is valid. Rerunning contract finishes
// the retirement and swaps it in; rolling contract back builds it again,
// widened, before the replacement goes with the swap's debris.
//
// No function here throws (see db.h).
#ifndef MIGRATOR_STATUS_ENUM_RETIRE_H_
#define MIGRATOR_STATUS_ENUM_RETIRE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "migrator/status_enum/context.h"

namespace booking::migrator {

// Drops, concurrently, each of `indexes` (the swap's, as the catalog has
// them now) whose replacement is built and valid; returns their names.
absl::StatusOr<std::vector<std::string>> RetireOldIndexes(
    PhaseContext& ctx, const std::vector<const PlanObject*>& indexes);

// The indexes of `recorded` an interrupted contract retired: gone or
// invalid, their replacement valid.
absl::StatusOr<std::vector<const PlanObject*>> RetiredIndexes(PhaseContext& ctx,
                                                              const StatusPlan& recorded);

// Contract, rerun: drops what an interrupted retirement left invalid.
absl::Status FinishRetirement(PhaseContext& ctx, const StatusPlan& recorded);

// Rollback of an interrupted contract: builds each retired index again
// (concurrently) with its widened definition, as expand left it.
absl::Status RestoreRetired(PhaseContext& ctx, const StatusPlan& recorded);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_RETIRE_H_
