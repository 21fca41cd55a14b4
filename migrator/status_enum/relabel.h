// Relabelling rows: backfill (old labels to new) and its rollback (new to
// old), for "Booking".status, and for the type's other columns plainly.
// A booking gets a history entry (version bumped, outbox event) only where
// its status changes in history's names: forward, IN_WORKSHOP to IN_SERVICE
// by --in-service-rule; back, every relabel (a rollback is recorded). A
// forward relabel to the old label's own new name (or to the exact label a
// rollback kept) changes the representation, not the state: no entry, no
// version bump, so callers' expected_version stays valid. Every new value is computed from the row
// version the batch has locked (FOR UPDATE in the same statement), never
// from a snapshot read before the lock: a row a writer changed in between is
// taken with its new value, or left for the next pass.
#ifndef MIGRATOR_STATUS_ENUM_RELABEL_H_
#define MIGRATOR_STATUS_ENUM_RELABEL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "migrator/status_enum/context.h"

namespace booking::migrator {

enum class Direction { kForward, kBack };

struct RelabelOutcome {
  int64_t bookings = 0;        // "Booking".status rows relabelled
  int64_t status_changes = 0;  // of them, status changes (each with an event)
  int64_t others = 0;          // rows of other columns changed
  int passes = 0;
  absl::Duration longest_batch;
};

// Passes over every column of the type until no row holds a label to
// relabel. Stops after --max-passes / --max-duration when labels keep
// arriving: ABORTED (exit 7) naming the sessions writing them.
absl::StatusOr<RelabelOutcome> RelabelUntilDone(PhaseContext& ctx, const StatusPlan& plan,
                                                Direction direction);

// Rows (in every column of the type) holding a label `direction` relabels.
absl::StatusOr<int64_t> RowsToRelabel(PhaseContext& ctx, const StatusPlan& plan,
                                      Direction direction);

// The sessions that wrote labels of the set writers should no longer write,
// one line each (from "StatusMigrationWriter" and pg_stat_activity).
absl::StatusOr<std::vector<std::string>> LabelWriters(PhaseContext& ctx);

// Validates --in-service-rule: one boolean expression over "Booking"
// (INVALID_ARGUMENT saying why not).
absl::Status ValidateInServiceRule(PhaseContext& ctx);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_RELABEL_H_
