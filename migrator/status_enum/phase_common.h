// What the phases share: reading state and plan, the checks every phase
// makes before it changes anything, and waiting out older transactions.
//
// No function here throws: what a statement throws is returned as a status
// (Db, see db.h).
#ifndef MIGRATOR_STATUS_ENUM_PHASE_COMMON_H_
#define MIGRATOR_STATUS_ENUM_PHASE_COMMON_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "migrator/status_enum/context.h"
#include "migrator/status_enum/state.h"

namespace booking::migrator {

// FAILED_PRECONDITION with exit code 6: refused, nothing changed.
absl::Status Refused(const std::string& message);

// The migration's state; FAILED_PRECONDITION when the store has none (any
// other error is the store's, from Db).
absl::StatusOr<MigrationState> State(PhaseContext& ctx);

// The catalog now, judged: every object with how it is carried or why not;
// also refuses what would make the migrator's own work unsafe in this
// session (row security hiding rows from it, user triggers or rules that
// would fire on its writes).
absl::StatusOr<StatusPlan> CurrentPlan(PhaseContext& ctx);

// Refused (exit 6, with every reason) unless every object can be carried.
absl::Status RequireCarryable(const StatusPlan& plan, const std::string& phase);

// After switching the label set writers write: waits until every
// transaction that began before the switch has ended, so none of them can
// still write a label of the other set (UNAVAILABLE naming them when they do
// not end in time).
absl::Status WaitForOlderTransactions(PhaseContext& ctx);

// Sessions of booking-service connected to the store ("pid 12 from 10.0.0.5"),
// for phases that need it stopped.
absl::StatusOr<std::vector<std::string>> BookingServiceSessions(PhaseContext& ctx);

// Adds each label to the type, each committed on its own (a label added in
// a transaction cannot be used in it).
absl::Status AddLabels(PhaseContext& ctx, const std::vector<std::string>& labels);

// Moves the phase in a transaction of its own.
absl::Status MovePhase(PhaseContext& ctx, const std::string& from, const std::string& to,
                       const std::string& action, const std::string& detail);

// Switches the label set writers write ("new" or "old") and waits out
// transactions older than the switch.
absl::Status SwitchWriters(PhaseContext& ctx, const MigrationState& state,
                           const std::string& labels);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_PHASE_COMMON_H_
