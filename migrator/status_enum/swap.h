// Replacing the enum type without a long lock: PostgreSQL cannot drop a
// label, and a column's values are the type's oids, so every column of the
// type gets a shadow column of the new type, kept in sync by a trigger and
// filled in short batches; indexes and checks are built on the shadows
// concurrently; then one short transaction swaps the columns and the types
// and recreates what names the column (views, triggers, policies, rules)
// with its definition for the new labels. The table is never rewritten.
//
// contract swaps to the new labels; rollback of expand swaps back to the
// original ones.
//
// No function here throws (what a statement throws is returned as a status;
// see db.h); a SwapTarget's `finish` runs inside the swap's transaction and
// may throw into it like any Tx user.
#ifndef MIGRATOR_STATUS_ENUM_SWAP_H_
#define MIGRATOR_STATUS_ENUM_SWAP_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "migrator/status_enum/context.h"
#include "migrator/status_enum/labels.h"

namespace booking::migrator {

struct SwapTarget {
  std::vector<std::string> labels;  // of the type after the swap, in order
  DefinitionMode mode;              // kNarrow (contract) or kToOld (rollback of expand)
  // Runs last in the swap's transaction (the phase change).
  std::function<void(Tx&)> finish;
  // Drop the old column's indexes concurrently before the swap (retire.h):
  // contract's; an interrupted run is finished or undone from the catalog.
  bool retire_indexes_first = false;
};

// Rewrites every definition for the target first (FAILED_PRECONDITION
// before anything changes if one cannot be), then builds and swaps.
absl::Status SwapType(PhaseContext& ctx, const StatusPlan& current, const StatusPlan& recorded,
                      const SwapTarget& target);

// Takes away what an interrupted swap left: the shadow columns (their
// indexes and checks go with them), sync triggers, the next type.
absl::Status DropSwapDebris(PhaseContext& ctx, const StatusPlan& current);

// True when an interrupted swap left something behind.
absl::StatusOr<bool> SwapDebrisExists(PhaseContext& ctx);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_SWAP_H_
