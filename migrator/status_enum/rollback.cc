// rollback [PHASE]: which phase to undo, and the rollback of expand.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "migrator/status_enum/capture.h"
#include "migrator/status_enum/carry.h"
#include "migrator/status_enum/phase_common.h"
#include "migrator/status_enum/phases.h"
#include "migrator/status_enum/relabel.h"
#include "migrator/status_enum/swap.h"

namespace booking::migrator {
namespace {

int Rank(const std::string& phase) {
  static const std::vector<std::string> kOrder = {
      kPhaseNone,       kPhaseExpanding, kPhaseExpanded,    kPhaseBackfilling,
      kPhaseBackfilled, kPhaseVerified,  kPhaseContracting, kPhaseContracted};
  return static_cast<int>(std::find(kOrder.begin(), kOrder.end(), phase) - kOrder.begin());
}

// The phase a rollback undoes now.
std::string Latest(const std::string& phase) {
  if (phase == kPhaseContracted || phase == kPhaseContracting) return "contract";
  if (phase == kPhaseVerified || phase == kPhaseBackfilled || phase == kPhaseBackfilling) {
    return "backfill";
  }
  if (phase == kPhaseExpanded || phase == kPhaseExpanding) return "expand";
  return "";
}

// The first phase at which `undo` has something to undo.
std::string FirstPhaseOf(const std::string& undo) {
  if (undo == "contract") return kPhaseContracting;
  if (undo == "backfill") return kPhaseBackfilling;
  return kPhaseExpanding;
}

// After the type has its original labels again: nothing the migrator made
// for the change is left.
void ForgetTheChange(Tx& tx, PhaseContext& ctx, const std::string& from) {
  RemoveCapture(tx, ctx.store);
  tx.Ddl(absl::StrCat("DROP TABLE IF EXISTS ", tx.Name(kBackupTable)));
  tx.Exec(R"(DELETE FROM "BookingStatusExact")");
  tx.Exec(R"(DELETE FROM "StatusMigrationWriter")");
  tx.Exec(R"(UPDATE "StatusMigration" SET plan = NULL, "writeLabels" = 'new')");
  SetPhase(tx, from, kPhaseNone, "rollback", "new labels removed");
}

}  // namespace

absl::Status StatusMigration::Rollback(const std::string& undo) {
  absl::StatusOr<MigrationState> state = State(ctx_);
  if (!state.ok()) return state.status();
  const std::string latest = Latest(state->phase);
  if (!undo.empty() && undo != latest) {
    if (Rank(state->phase) < Rank(FirstPhaseOf(undo))) {
      ctx_.out << "rollback " << undo << ": nothing to do (phase " << state->phase << ")\n";
      return absl::OkStatus();
    }
    return Refused(absl::StrCat("rollback ", undo, " refuses: phase is ", state->phase,
                                "; roll back ", latest, " first"));
  }
  if (latest == "contract") return RollbackContract(*state);
  if (latest == "backfill") return RollbackBackfill(*state);
  if (latest == "expand") return RollbackExpand(*state);
  ctx_.out << "rollback: nothing to roll back (phase " << state->phase << ")\n";
  return absl::OkStatus();
}

absl::Status StatusMigration::RollbackExpand(const MigrationState& state) {
  const absl::StatusOr<std::vector<std::string>> sessions = BookingServiceSessions(ctx_);
  if (!sessions.ok()) return sessions.status();
  if (!sessions->empty()) {
    return Refused(absl::StrCat(
        "rollback of expand refuses: booking-service is connected (",
        absl::StrJoin(*sessions, "; "),
        ") and needs the new labels. Stop it (or deploy the code of before the change), then run "
        "again"));
  }
  const absl::StatusOr<StatusPlan> current = CurrentPlan(ctx_);
  if (!current.ok()) return current.status();
  const StatusPlan& plan = *current;
  if (absl::Status s = RequireCarryable(plan, "rollback of expand"); !s.ok()) return s;
  if (state.original_labels.empty()) {
    return Refused("rollback of expand refuses: the original label set was not recorded");
  }
  ctx_.out << "rollback of expand: relabel rows holding new labels, then give " << ctx_.store.type
           << " its original labels [" << absl::StrJoin(state.original_labels, ", ")
           << "] back, every object as it was, and remove what expand made\n";
  if (ctx_.options.dry_run) return absl::OkStatus();
  if (state.phase == kPhaseExpanded) {
    absl::Status s = MovePhase(ctx_, kPhaseExpanded, kPhaseExpanding, "rollback", "started");
    if (!s.ok()) return s;
  }
  if (absl::Status s = SwitchWriters(ctx_, state, "old"); !s.ok()) return s;
  const StatusPlan recorded = RecordedPlan(state);
  if (absl::Status s = FinishWideRenames(ctx_, recorded); !s.ok()) return s;
  if (absl::Status s = DropWideLeftovers(ctx_, recorded); !s.ok()) return s;
  absl::StatusOr<RelabelOutcome> relabelled = RelabelUntilDone(ctx_, plan, Direction::kBack);
  if (!relabelled.ok()) return relabelled.status();
  const auto forget = [&](Tx& tx) { ForgetTheChange(tx, ctx_, kPhaseExpanding); };
  absl::Status s;
  if (ctx_.store.labels == state.original_labels) {
    s = ctx_.db.Transaction("forget the change", ctx_.TableLocks(), forget);
  } else {
    absl::StatusOr<StatusPlan> now = CurrentPlan(ctx_);  // as the relabelling left it
    if (!now.ok()) return now.status();
    s = SwapType(ctx_, *now, recorded, {state.original_labels, DefinitionMode::kToOld, forget});
  }
  if (!s.ok()) return s;
  ctx_.out << "rollback: done (phase none): the store has its original labels again.\n";
  return absl::OkStatus();
}

}  // namespace booking::migrator
