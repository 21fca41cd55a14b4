// The phased change of "BookingStatus" from the old label set to the new one
// (README, "The status-enum change"): plan, expand, backfill, verify, contract,
// and the rollback of each. Every phase checks everything it needs before it
// changes anything (and refuses with exit 6 otherwise), is idempotent and
// resumable (its progress lives in the store, each step finds what an
// interrupted run left), runs under the store's migrator lock, and never
// holds a lock writers wait for more than a moment.
//
// What runs beside each phase (README, "The status-enum change"):
//   expand..contract  booking-service (writes new labels; reads old ones as
//                     new); old code may still write old labels until
//                     contract; every status change has its history entry.
//   rollback contract both, unchanged.
//   rollback backfill booking-service switches to writing old labels (and
//                     keeps each booking's exact new status); old code may run.
//   rollback expand   booking-service must be stopped (refused while connected).
#ifndef MIGRATOR_STATUS_ENUM_PHASES_H_
#define MIGRATOR_STATUS_ENUM_PHASES_H_

#include <string>

#include "absl/status/status.h"
#include "migrator/status_enum/context.h"
#include "migrator/status_enum/state.h"

namespace booking::migrator {

// Not thread safe: owned by one thread.
class StatusMigration {
 public:
  explicit StatusMigration(PhaseContext ctx) : ctx_(std::move(ctx)) {}

  absl::Status Plan();
  absl::Status PrintStatus();
  absl::Status Expand();
  absl::Status Backfill();
  absl::Status Verify();
  absl::Status Contract();
  // Undoes the latest phase; with `undo` ("contract", "backfill" or
  // "expand") only that one, so that a rerun changes nothing.
  absl::Status Rollback(const std::string& undo);

 private:
  absl::Status RollbackContract(const MigrationState& state);
  absl::Status RollbackBackfill(const MigrationState& state);
  absl::Status RollbackExpand(const MigrationState& state);

  PhaseContext ctx_;
};

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_PHASES_H_
