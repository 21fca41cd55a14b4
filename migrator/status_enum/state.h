// Where the status-enum change stands, kept in the store itself
// ("StatusMigration", one row): the phase, which label set writers write,
// the original labels and the plan expand recorded. Every phase change is
// logged in "StatusMigrationLog".
//
// Phases: none -> expanding -> expanded -> backfilling -> backfilled ->
// verified -> contracting -> contracted. "expanding", "backfilling" and
// "contracting" are the way there: an interrupted phase (or its rollback)
// resumes from them, and its rollback knows there is something to undo.
//
// Throwing: functions taking a Tx& throw libpqxx exceptions into the Db call
// they run inside (see db.h); the others never throw (those reaching the
// store return a status).
#ifndef MIGRATOR_STATUS_ENUM_STATE_H_
#define MIGRATOR_STATUS_ENUM_STATE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "migrator/status_enum/db.h"
#include "migrator/status_enum/inventory.h"

namespace booking::migrator {

inline constexpr char kPhaseNone[] = "none";
inline constexpr char kPhaseExpanding[] = "expanding";
inline constexpr char kPhaseExpanded[] = "expanded";
inline constexpr char kPhaseBackfilling[] = "backfilling";
inline constexpr char kPhaseBackfilled[] = "backfilled";
inline constexpr char kPhaseVerified[] = "verified";
inline constexpr char kPhaseContracting[] = "contracting";
inline constexpr char kPhaseContracted[] = "contracted";

struct MigrationState {
  std::string phase;
  // "new" (writers write new labels) or "old" (a rollback of backfill is
  // under way or done: writers write old labels and keep the exact new one).
  std::string write_labels;
  std::vector<std::string> original_labels;
  std::string backfilled_at;  // empty when not backfilled
  std::string window_ends;    // backfilled_at + the compatibility window
  bool window_passed = false;
  std::string plan_json;  // the plan expand recorded
};

// FAILED_PRECONDITION when `migrator up` has not set the store up.
absl::StatusOr<MigrationState> ReadState(Tx& tx, absl::Duration compatibility_window);

// Moves the phase and logs it (in the caller's transaction).
void SetPhase(Tx& tx, const std::string& from, const std::string& to, const std::string& action,
              const std::string& detail);
void LogAction(Tx& tx, const std::string& action, const std::string& from, const std::string& to,
               const std::string& detail);
void SetWriteLabels(Tx& tx, const std::string& labels);
void RecordPlan(Tx& tx, const StatusPlan& plan);
// The plan expand recorded; an empty plan when none was.
StatusPlan RecordedPlan(const MigrationState& state);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_STATE_H_
