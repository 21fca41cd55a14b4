// verify, contract and the rollback of contract.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "migrator/exit_codes.h"
#include "migrator/status_enum/capture.h"
#include "migrator/status_enum/carry.h"
#include "migrator/status_enum/labels.h"
#include "migrator/status_enum/next_command.h"
#include "migrator/status_enum/phase_common.h"
#include "migrator/status_enum/phases.h"
#include "migrator/status_enum/retire.h"
#include "migrator/status_enum/swap.h"
#include "migrator/status_enum/unique_check.h"
#include "migrator/status_enum/verify.h"

namespace booking::migrator {
namespace {

// Contract before the compatibility window has passed only with --force,
// and then logged.
absl::Status CheckWindow(PhaseContext& ctx, const MigrationState& state) {
  if (state.window_passed) return absl::OkStatus();
  if (!ctx.options.force) {
    return Refused(absl::StrCat("contract refuses: the compatibility window ends at ",
                                state.window_ends,
                                "; old status names are accepted until then. Wait, or pass "
                                "--force (logged)"));
  }
  LogWarning("contract forced before the compatibility window ended",
             {{"window_ends", state.window_ends}});
  ctx.out << "contract: FORCED before the compatibility window ends (" << state.window_ends
          << ")\n";
  if (ctx.options.dry_run) return absl::OkStatus();
  return ctx.db.Transaction("log --force", ctx.RowLocks(), [&](Tx& tx) {
    LogAction(tx, "contract --force", state.phase, state.phase,
              absl::StrCat("window ends ", state.window_ends));
  });
}

// Why contract cannot run yet, naming every step still before it: one
// refusal tells the whole way, not only the step next to it.
std::string PathToContract(const MigrationState& state) {
  const std::string& phase = state.phase;
  const std::string then = "then `migrator verify`, then `migrator contract`";
  if (phase == kPhaseNone || phase == kPhaseExpanding) {
    return absl::StrCat("contract refuses: expand has not ",
                        phase == kPhaseNone ? "run" : "finished", " (phase is ", phase,
                        "): run `migrator expand`, then `migrator backfill`, ", then);
  }
  if (phase == kPhaseExpanded || phase == kPhaseBackfilling || state.write_labels == "old") {
    return absl::StrCat("contract refuses: backfill has not ",
                        phase == kPhaseExpanded ? "run" : "finished", " (phase is ", phase,
                        "): run `migrator backfill`, ", then);
  }
  return absl::StrCat("contract refuses: verify has not passed (phase is ", phase,
                      "): run `migrator verify`, then `migrator contract`");
}

// A dry run's end: the command that makes the change.
absl::Status EndDryRun(PhaseContext& ctx) {
  ctx.out << "next: run " << NextCommand({"contract"}, ctx.options) << "\n";
  return absl::OkStatus();
}

}  // namespace

absl::Status StatusMigration::Verify() {
  absl::StatusOr<MigrationState> state = State(ctx_);
  if (!state.ok()) return state.status();
  const std::string& phase = state->phase;
  if (phase != kPhaseBackfilled && phase != kPhaseVerified && phase != kPhaseContracted) {
    return Refused(absl::StrCat("verify needs a backfilled store (phase is ", phase,
                                "): run `migrator backfill` first"));
  }
  const absl::StatusOr<StatusPlan> plan = CurrentPlan(ctx_);
  if (!plan.ok()) return plan.status();
  const absl::StatusOr<VerifyReport> report = CheckStore(ctx_, *plan, state->write_labels);
  if (!report.ok()) return report.status();
  ctx_.out << report->Text();
  if (!report->ok()) {
    ctx_.out << "verify: FAILED: " << absl::StrJoin(report->problems, "; ") << "\n";
    return absl::DataLossError(absl::StrJoin(report->problems, "; "));
  }
  if (phase == kPhaseBackfilled && !ctx_.options.dry_run) {
    if (absl::Status s = MovePhase(ctx_, phase, kPhaseVerified, "verify", "passed"); !s.ok()) {
      return s;
    }
  }
  ctx_.out << "verify: passed\n";
  if (phase == kPhaseBackfilled || phase == kPhaseVerified) {
    if (!state->window_passed) {
      ctx_.out << "verify: contract waits for the compatibility window, which ends "
               << state->window_ends << " (or pass --force)\n";
    }
    ctx_.out << "next: run " << NextCommand({"contract"}, ctx_.options) << "\n";
  }
  return absl::OkStatus();
}

absl::Status StatusMigration::Contract() {
  absl::StatusOr<MigrationState> state = State(ctx_);
  if (!state.ok()) return state.status();
  const std::string& phase = state->phase;
  if (phase == kPhaseContracted) {
    ctx_.out << "contract: nothing to do (phase contracted)\n";
    return absl::OkStatus();
  }
  if (phase != kPhaseVerified && phase != kPhaseContracting) return Refused(PathToContract(*state));
  // An interrupted rollback of contract may have left a widened index or
  // check under its temporary name: it must be carried, not lost.
  // An interrupted contract may have left an index it was retiring invalid.
  if (!ctx_.options.dry_run) {
    if (absl::Status s = FinishWideRenames(ctx_, RecordedPlan(*state)); !s.ok()) return s;
    if (absl::Status s = FinishRetirement(ctx_, RecordedPlan(*state)); !s.ok()) return s;
  }
  const absl::StatusOr<StatusPlan> current = CurrentPlan(ctx_);
  if (!current.ok()) return current.status();
  const StatusPlan& plan = *current;
  if (absl::Status s = RequireCarryable(plan, "contract"); !s.ok()) return s;
  if (absl::Status s =
          CheckUniqueIndexes(ctx_, plan, RecordedPlan(*state), DefinitionMode::kNarrow);
      !s.ok()) {
    return s;
  }
  if (phase == kPhaseVerified) {
    const absl::StatusOr<VerifyReport> report = CheckStore(ctx_, plan, state->write_labels);
    if (!report.ok()) return report.status();
    if (!report->ok()) {
      ctx_.out << report->Text();
      return Refused(absl::StrCat("contract refuses: verify fails now (",
                                  absl::StrJoin(report->problems, "; "),
                                  "); run backfill and verify again"));
    }
    if (absl::Status s = CheckWindow(ctx_, *state); !s.ok()) return s;
  }
  if (!ctx_.options.dry_run && phase == kPhaseVerified) {
    absl::Status s = MovePhase(ctx_, phase, kPhaseContracting, "contract", "started");
    if (!s.ok()) return s;
  }
  SwapTarget target{NewLabels(), DefinitionMode::kNarrow,
                    [&](Tx& tx) {
                      tx.Exec(R"(DELETE FROM "BookingStatusExact")");
                      tx.Exec(R"(DELETE FROM "StatusMigrationWriter")");
                      SetPhase(tx, kPhaseContracting, kPhaseContracted, "contract",
                               "old labels removed");
                    },
                    /*retire_indexes_first=*/true};
  absl::Status s = SwapType(ctx_, plan, RecordedPlan(*state), target);
  if (!s.ok()) return s;
  if (ctx_.options.dry_run) return EndDryRun(ctx_);
  s = ctx_.db.Transaction("analyze", ctx_.RowLocks(), [&](Tx& tx) {
    for (const PlanObject* c : ObjectsOfKind(plan, "column")) tx.Exec("ANALYZE " + c->table());
  });
  if (!s.ok()) return s;
  ctx_.out << "contract: done: " << ctx_.store.type << " holds only the new labels.\n";
  return absl::OkStatus();
}

absl::Status StatusMigration::RollbackContract(const MigrationState& state) {
  // An interrupted contract's retired indexes first: the catalog refuses an
  // invalid one, and their replacements go with the swap's debris.
  if (!ctx_.options.dry_run && state.phase == kPhaseContracting) {
    if (absl::Status s = RestoreRetired(ctx_, RecordedPlan(state)); !s.ok()) return s;
  }
  const absl::StatusOr<StatusPlan> current = CurrentPlan(ctx_);
  if (!current.ok()) return current.status();
  const StatusPlan& plan = *current;
  if (absl::Status s = RequireCarryable(plan, "rollback of contract"); !s.ok()) return s;
  std::vector<std::string> missing;
  for (const std::string& l : OldOnlyLabels()) {
    if (std::find(ctx_.store.labels.begin(), ctx_.store.labels.end(), l) ==
        ctx_.store.labels.end()) {
      missing.push_back(l);
    }
  }
  ctx_.out << "rollback of contract: add the old labels [" << absl::StrJoin(missing, ", ")
           << "] back and widen every object naming labels again\n";
  if (ctx_.options.dry_run) return absl::OkStatus();
  if (state.phase == kPhaseContracted) {
    absl::Status s = MovePhase(ctx_, kPhaseContracted, kPhaseContracting, "rollback", "started");
    if (!s.ok()) return s;
  }
  const absl::StatusOr<bool> debris = SwapDebrisExists(ctx_);
  if (!debris.ok()) return debris.status();
  if (*debris) {  // an interrupted contract
    if (absl::Status s = DropSwapDebris(ctx_, plan); !s.ok()) return s;
  }
  // The capture trigger first: until this rollback is done, it keeps old
  // labels out, so nothing names them before every object accepts them.
  absl::Status s = ctx_.db.Transaction("capture trigger", ctx_.TableLocks(),
                                       [&](Tx& tx) { InstallCapture(tx, ctx_.store); });
  if (!s.ok()) return s;
  if (s = AddLabels(ctx_, missing); !s.ok()) return s;
  const StatusPlan recorded = RecordedPlan(state);
  if (s = FinishWideRenames(ctx_, recorded); !s.ok()) return s;
  const absl::StatusOr<StatusPlan> now = CurrentPlan(ctx_);  // with the old labels again
  if (!now.ok()) return now.status();
  if (s = WidenInPlace(ctx_, *now, recorded); !s.ok()) return s;
  if (s = MovePhase(ctx_, kPhaseContracting, kPhaseVerified, "rollback", "old labels added back");
      !s.ok()) {
    return s;
  }
  ctx_.out << "rollback: done (phase verified). Old status names can be written again.\n";
  return absl::OkStatus();
}

}  // namespace booking::migrator
