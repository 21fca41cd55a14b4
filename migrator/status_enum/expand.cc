// expand: plan first (refuse with nothing changed), record the plan, add the
// new labels, install the capture trigger, widen what names old labels,
// snapshot the backup, then let writers write new labels.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "migrator/status_enum/capture.h"
#include "migrator/status_enum/carry.h"
#include "migrator/status_enum/labels.h"
#include "migrator/status_enum/next_command.h"
#include "migrator/status_enum/phase_common.h"
#include "migrator/status_enum/phases.h"
#include "migrator/status_enum/plan.h"
#include "migrator/status_enum/progress.h"
#include "migrator/status_enum/swap.h"

namespace booking::migrator {
namespace {

std::vector<std::string> Missing(const std::vector<std::string>& have,
                                 const std::vector<std::string>& wanted) {
  std::vector<std::string> missing;
  for (const std::string& l : wanted) {
    if (std::find(have.begin(), have.end(), l) == have.end()) missing.push_back(l);
  }
  return missing;
}

}  // namespace

// A label added in a transaction cannot be used in it: each is added and
// committed on its own, before anything uses it.
// Each goes where WindowOrder puts it (BEFORE / AFTER a label already there).
absl::Status AddLabels(PhaseContext& ctx, const std::vector<std::string>& labels) {
  std::vector<std::string> have = ctx.store.labels;
  for (const std::string& l : WindowOrder()) {
    if (std::find(labels.begin(), labels.end(), l) == labels.end()) continue;
    absl::Status s = ctx.db.Transaction("add label " + l, ctx.TableLocks(), [&](Tx& tx) {
      const std::string at = Placement(have, l, [&](const std::string& v) { return tx.Quote(v); });
      tx.Ddl(absl::StrCat("ALTER TYPE ", ctx.store.type, " ADD VALUE IF NOT EXISTS ", tx.Quote(l),
                          at.empty() ? "" : " ", at));
    });
    if (!s.ok()) return s;
    have.push_back(l);
  }
  for (const std::string& l : labels) {  // labels of neither set: never asked for
    if (std::find(have.begin(), have.end(), l) == have.end()) {
      return absl::InternalError(absl::StrCat("label ", l, " has no place in the window order"));
    }
  }
  return absl::OkStatus();
}

absl::Status SnapshotBackup(PhaseContext& ctx) {
  absl::Status s = ctx.db.Transaction("backup table", ctx.TableLocks(), [&](Tx& tx) {
    // status as TEXT: the backup never depends on either label set. ref* is
    // the row as the migrator last left it: a row still equal to it has not
    // moved on since. Half-full pages: backfill rewrites every row it
    // relabels, and a page with room keeps that a HOT update (no new index
    // entry, the new version beside the old); on full pages it was the most
    // expensive part of a relabel batch.
    tx.Ddl(absl::StrCat("CREATE TABLE IF NOT EXISTS ", tx.Name(kBackupTable), R"( (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        "updatedAt" TIMESTAMP(3),
        "migrationTimestamp" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "refStatus" TEXT NOT NULL,
        "refVersion" BIGINT NOT NULL,
        "refUpdatedAt" TIMESTAMP(3)) WITH (fillfactor = 50))"));
  });
  if (!s.ok()) return s;
  std::string sql;
  int64_t rows = 0;
  s = ctx.db.Read([&](Tx& tx) {
    sql = absl::StrCat(R"(WITH batch AS (
             SELECT id, status::text AS status, "updatedAt", version FROM )",
                       ctx.store.table, R"( WHERE id > $1 ORDER BY id LIMIT $2),
           ins AS (
             INSERT INTO )",
                       tx.Name(kBackupTable),
                       R"( (id, status, "updatedAt", "refStatus", "refVersion", "refUpdatedAt")
             SELECT id, status, "updatedAt", status, version, "updatedAt" FROM batch
             ON CONFLICT (id) DO NOTHING)
           SELECT count(*) AS n, COALESCE(max(id), '') AS last_id FROM batch)");
    rows =
        tx.Exec(absl::StrCat("SELECT count(*) AS n FROM ", ctx.store.table))[0]["n"].as<int64_t>();
  });
  if (!s.ok()) return s;
  Progress progress(ctx.progress, "snapshot", rows, ctx.options.progress_bar);
  std::string after;
  while (true) {
    int64_t n = 0;
    absl::Status b = ctx.db.Transaction("snapshot batch", ctx.RowLocks(), [&](Tx& tx) {
      pqxx::result r = tx.Params(sql, after, ctx.options.batch_size);
      n = r[0]["n"].as<int64_t>();
      if (n > 0) after = r[0]["last_id"].as<std::string>();
    });
    if (!b.ok()) return b;
    if (n == 0) break;
    progress.Add(n);
  }
  progress.Finish();
  return absl::OkStatus();
}

absl::Status StatusMigration::Expand() {
  absl::StatusOr<MigrationState> state = State(ctx_);
  if (!state.ok()) return state.status();
  if (state->phase != kPhaseNone && state->phase != kPhaseExpanding) {
    ctx_.out << "expand: nothing to do (phase " << state->phase << ")\n";
    return absl::OkStatus();
  }
  absl::StatusOr<StatusPlan> current = CurrentPlan(ctx_);
  if (!current.ok()) return current.status();
  const StatusPlan& plan = *current;
  PrintPlanSummary(plan, "expand", ctx_.out);
  if (absl::Status s = RequireCarryable(plan, "expand"); !s.ok()) return s;
  const std::vector<std::string> missing = Missing(ctx_.store.labels, NewLabels());
  ctx_.out << "expand: add labels [" << absl::StrJoin(missing, ", ") << "] to " << ctx_.store.type
           << "; install the capture trigger; widen what names old labels; snapshot every "
              "booking into "
           << kBackupTable << "\n";
  if (ctx_.options.dry_run) {
    ctx_.out << "next: run " << NextCommand({"expand"}, ctx_.options) << "\n";
    return absl::OkStatus();
  }
  StatusPlan recorded = RecordedPlan(*state);
  if (state->phase == kPhaseNone) {
    recorded = plan;
    absl::Status s = ctx_.db.Transaction("record plan", ctx_.RowLocks(), [&](Tx& tx) {
      RecordPlan(tx, plan);
      SetPhase(tx, kPhaseNone, kPhaseExpanding, "expand",
               absl::StrCat("plan recorded: ", plan.objects_size(), " objects"));
    });
    if (!s.ok()) return s;
  }
  absl::StatusOr<bool> debris = SwapDebrisExists(ctx_);
  if (!debris.ok()) return debris.status();
  if (*debris) {  // an interrupted rollback of expand was swapping back
    if (absl::Status s = DropSwapDebris(ctx_, plan); !s.ok()) return s;
  }
  if (absl::Status s = AddLabels(ctx_, missing); !s.ok()) return s;
  absl::Status s = ctx_.db.Transaction("capture trigger", ctx_.TableLocks(),
                                       [&](Tx& tx) { InstallCapture(tx, ctx_.store); });
  if (!s.ok()) return s;
  if (s = FinishWideRenames(ctx_, recorded); !s.ok()) return s;
  absl::StatusOr<StatusPlan> now = CurrentPlan(ctx_);  // as the labels and renames left it
  if (!now.ok()) return now.status();
  if (s = WidenInPlace(ctx_, *now, recorded); !s.ok()) return s;
  if (s = SnapshotBackup(ctx_); !s.ok()) return s;
  s = ctx_.db.Transaction("expanded", ctx_.RowLocks(), [&](Tx& tx) {
    SetWriteLabels(tx, "new");  // from now on, as booking-service sees expand done
    SetPhase(tx, kPhaseExpanding, kPhaseExpanded, "expand",
             absl::StrCat("added ", missing.size(), " labels"));
  });
  if (!s.ok()) return s;
  ctx_.out << "expand: done. Deploy booking-service now (it writes the new labels), then run "
              "backfill.\n"
           << "next: run " << NextCommand({"backfill"}, ctx_.options) << "\n";
  return absl::OkStatus();
}

}  // namespace booking::migrator
