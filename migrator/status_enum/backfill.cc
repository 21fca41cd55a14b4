// backfill and its rollback: switch the writers' label set, move defaults,
// relabel every row in locked batches until none is left (or stop, naming
// the sessions that keep writing the other set).
#include "absl/strings/str_cat.h"
#include "migrator/exit_codes.h"
#include "migrator/status_enum/carry.h"
#include "migrator/status_enum/labels.h"
#include "migrator/status_enum/next_command.h"
#include "migrator/status_enum/phase_common.h"
#include "migrator/status_enum/phases.h"
#include "migrator/status_enum/plan.h"
#include "migrator/status_enum/relabel.h"

namespace booking::migrator {
namespace {

// Column defaults naming old labels give the new label from backfill on
// (kNarrow), and the original again after its rollback (from the plan expand
// recorded).
absl::Status MoveDefaults(PhaseContext& ctx, const StatusPlan& plan, const StatusPlan& recorded,
                          DefinitionMode mode) {
  for (const PlanObject* c : ObjectsOfKind(plan, "column")) {
    if (c->definition().empty()) continue;
    const PlanObject& source = Source(*c, recorded);
    const bool original = &source != c;
    absl::StatusOr<std::string> target =
        mode == DefinitionMode::kToOld && original
            ? absl::StatusOr<std::string>(source.definition())
            : Rewrite(source.definition(), ContextFor(plan, c->table(), ""), mode, false);
    if (!target.ok()) return target.status();
    if (*target == c->definition()) continue;
    absl::Status s = ctx.db.Transaction("default of " + c->name(), ctx.TableLocks(),
                                        [&](Tx& tx) { SetDefault(tx, *c, *target); });
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status PrintCounts(PhaseContext& ctx, const StatusPlan& plan, Direction direction) {
  const absl::StatusOr<int64_t> rows = RowsToRelabel(ctx, plan, direction);
  if (!rows.ok()) return rows.status();
  ctx.out << (direction == Direction::kForward ? "backfill: " : "rollback of backfill: ") << *rows
          << " rows hold " << (direction == Direction::kForward ? "old" : "new") << " labels\n";
  return absl::OkStatus();
}

// Stale exact labels (the booking moved on since) are of no use to anyone.
absl::Status DropStaleExactLabels(PhaseContext& ctx) {
  return ctx.db.Transaction("stale exact labels", ctx.RowLocks(), [&](Tx& tx) {
    tx.Exec(absl::StrCat(R"(DELETE FROM "BookingStatusExact" e WHERE NOT EXISTS (
                              SELECT 1 FROM )",
                         ctx.store.table, " b WHERE b.id = e.id AND b.version = e.version)"));
  });
}

}  // namespace

absl::Status StatusMigration::Backfill() {
  absl::StatusOr<MigrationState> state = State(ctx_);
  if (!state.ok()) return state.status();
  const std::string& phase = state->phase;
  if (phase == kPhaseContracted) {
    ctx_.out << "backfill: nothing to do (phase contracted)\n";
    return absl::OkStatus();
  }
  if (phase != kPhaseExpanded && phase != kPhaseBackfilling && phase != kPhaseBackfilled &&
      phase != kPhaseVerified) {
    return Refused(absl::StrCat("backfill refuses: phase is ", phase,
                                phase == kPhaseContracting
                                    ? "; finish `migrator contract` or `migrator rollback contract`"
                                    : "; run `migrator expand` first"));
  }
  if (absl::Status s = ValidateInServiceRule(ctx_); !s.ok()) return s;
  if (!ctx_.options.dry_run) {
    if (absl::Status s = FinishWideRenames(ctx_, RecordedPlan(*state)); !s.ok()) return s;
  }
  const absl::StatusOr<StatusPlan> current = CurrentPlan(ctx_);
  if (!current.ok()) return current.status();
  const StatusPlan& plan = *current;
  if (absl::Status s = RequireCarryable(plan, "backfill"); !s.ok()) return s;
  if (absl::Status s = PrintCounts(ctx_, plan, Direction::kForward); !s.ok()) return s;
  if (ctx_.options.dry_run) {
    ctx_.out << "next: run " << NextCommand({"backfill"}, ctx_.options) << "\n";
    return absl::OkStatus();
  }
  if (phase == kPhaseExpanded) {  // from here on a rollback has something to undo
    absl::Status s = MovePhase(ctx_, phase, kPhaseBackfilling, "backfill", "started");
    if (!s.ok()) return s;
  }
  if (absl::Status s = SwitchWriters(ctx_, *state, "new"); !s.ok()) return s;
  const StatusPlan recorded = RecordedPlan(*state);
  if (absl::Status s = MoveDefaults(ctx_, plan, recorded, DefinitionMode::kNarrow); !s.ok()) {
    return s;
  }
  absl::StatusOr<RelabelOutcome> outcome = RelabelUntilDone(ctx_, plan, Direction::kForward);
  if (!outcome.ok()) return outcome.status();
  if (absl::Status s = DropStaleExactLabels(ctx_); !s.ok()) return s;
  if (phase == kPhaseExpanded || phase == kPhaseBackfilling) {
    absl::Status s = MovePhase(ctx_, kPhaseBackfilling, kPhaseBackfilled, "backfill",
                               absl::StrCat(outcome->bookings, " bookings and ", outcome->others,
                                            " other rows relabelled"));
    if (!s.ok()) return s;
  }
  ctx_.out << "backfill: longest batch (the longest a writer of one of its rows could wait) "
           << absl::ToDoubleMilliseconds(outcome->longest_batch) << " ms\n"
           << "backfill: done: " << outcome->bookings << " bookings (" << outcome->status_changes
           << " of them status changes, each with a history entry; "
           << "the rest kept their status and version) and " << outcome->others
           << " other rows relabelled in " << outcome->passes
           << " pass(es); no old label is left.\n"
           << "next: run " << NextCommand({"verify"}, ctx_.options) << "\n";
  return absl::OkStatus();
}

absl::Status StatusMigration::RollbackBackfill(const MigrationState& state) {
  const absl::StatusOr<StatusPlan> current = CurrentPlan(ctx_);
  if (!current.ok()) return current.status();
  const StatusPlan& plan = *current;
  if (absl::Status s = RequireCarryable(plan, "rollback of backfill"); !s.ok()) return s;
  if (absl::Status s = PrintCounts(ctx_, plan, Direction::kBack); !s.ok()) return s;
  ctx_.out << "rollback of backfill: writers switch to the old labels (booking-service keeps each "
              "booking's exact status); every new label is written back as its old one, each "
              "booking with a history entry\n";
  if (ctx_.options.dry_run) return absl::OkStatus();
  if (absl::Status s = SwitchWriters(ctx_, state, "old"); !s.ok()) return s;
  const StatusPlan recorded = RecordedPlan(state);
  if (absl::Status s = MoveDefaults(ctx_, plan, recorded, DefinitionMode::kToOld); !s.ok()) {
    return s;
  }
  absl::StatusOr<RelabelOutcome> outcome = RelabelUntilDone(ctx_, plan, Direction::kBack);
  if (!outcome.ok()) return outcome.status();
  absl::Status s = MovePhase(ctx_, state.phase, kPhaseExpanded, "rollback",
                             absl::StrCat(outcome->bookings, " bookings and ", outcome->others,
                                          " other rows relabelled back"));
  if (!s.ok()) return s;
  ctx_.out << "rollback: done (phase expanded): " << outcome->bookings
           << " bookings relabelled back; writers write the old labels. Run `migrator backfill` "
              "to go forward again, or `migrator rollback expand` (with booking-service "
              "stopped) to remove the new labels.\n";
  return absl::OkStatus();
}

}  // namespace booking::migrator
