#include "migrator/status_enum/relabel.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/backoff.h"
#include "migrator/exit_codes.h"
#include "migrator/status_enum/capture.h"
#include "migrator/status_enum/labels.h"
#include "migrator/status_enum/next_command.h"
#include "migrator/status_enum/progress.h"
#include "migrator/status_enum/relabel_sql.h"
#include "migrator/status_enum/relabel_workers.h"
#include "migrator/status_enum/sql_tokens.h"

namespace booking::migrator {
namespace {

constexpr char kReasonBackfill[] = "status migration backfill";
constexpr char kReasonRollback[] = "status migration rollback";
constexpr int64_t kPagesPerBatch = 8;

std::vector<std::string> FromLabels(Direction d) {
  return d == Direction::kForward ? OldOnlyLabels() : NewOnlyLabels();
}

// One pass over "Booking" in id ranges of --batch-size rows, by --workers
// workers (relabel_workers.h); adds what it relabelled to `outcome`.
absl::Status BookingsPass(PhaseContext& ctx, Direction direction, RelabelOutcome& outcome,
                          Progress& progress) {
  BatchJob job;
  absl::Status read = ctx.db.Read([&](Tx& tx) {
    job.sql = BookingBatchSql(tx, ctx.store, direction, ctx.options.in_service_rule);
  });
  if (!read.ok()) return read;
  // The batch runs one generic plan, made at its first run from the
  // statistics of then: the exact labels a rollback kept (possibly many) must
  // be counted, or the per-row lookup may be planned as a scan of a table
  // the planner thought empty.
  absl::Status analyzed = ctx.db.Transaction("analyze exact labels", ctx.RowLocks(), [&](Tx& tx) {
    tx.Exec(R"(ANALYZE "BookingStatusExact")");
  });
  if (!analyzed.ok()) return analyzed;
  job.labels = TextArrayLiteral(FromLabels(direction));
  job.reason = direction == Direction::kForward ? kReasonBackfill : kReasonRollback;
  PassTally tally(outcome, progress);
  // One worker: the phase's own session, its statements in a fixed order.
  if (ctx.options.workers <= 1) return RelabelRange(ctx, ctx.db, job, IdRange{}, tally);
  const absl::StatusOr<std::vector<IdRange>> ranges = SplitIds(ctx, ctx.options.workers);
  if (!ranges.ok()) return ranges.status();
  return RelabelInParallel(ctx, job, *ranges, tally);
}

// One pass over another column, leaf table by leaf table, in TID ranges
// (each page visited once).
absl::StatusOr<int64_t> ColumnPass(PhaseContext& ctx, const PlanObject& column, Direction direction,
                                   Progress& progress) {
  const std::string labels = TextArrayLiteral(FromLabels(direction));
  int64_t changed = 0;
  for (const std::string& leaf : column.leaves()) {
    std::string sql;
    int64_t pages = 0;
    absl::Status read = ctx.db.Read([&](Tx& tx) {
      sql = OtherColumnBatchSql(tx, ctx.store, leaf, column.printed_column(), direction);
      pages = RelationPages(tx, leaf);
    });
    if (!read.ok()) return read;
    for (int64_t page = 0; page < pages; page += kPagesPerBatch) {
      absl::Status s = ctx.db.Transaction("relabel " + column.name(), ctx.RowLocks(), [&](Tx& tx) {
        const int64_t n = tx.Params(sql, labels, page, page + kPagesPerBatch).affected_rows();
        changed += n;
        progress.Add(n);
      });
      if (!s.ok()) return s;
    }
  }
  return changed;
}

bool IsBookingStatus(const PlanObject& column, const StoreInfo& store) {
  return column.table() == store.table && column.column() == "status";
}

absl::Status StillArriving(PhaseContext& ctx, int64_t left, int passes, Direction direction) {
  const absl::StatusOr<std::vector<std::string>> writers = LabelWriters(ctx);
  if (!writers.ok()) return writers.status();
  std::string message = absl::StrCat(
      left, " rows still hold ", direction == Direction::kForward ? "old" : "new", " labels after ",
      passes, " passes: they keep arriving. Stop the code writing them (or switch it to the ",
      direction == Direction::kForward ? "new" : "old", " labels), then run it again.");
  if (writers->empty()) {
    absl::StrAppend(&message, " No writer was recorded (rows written before this run?).");
  } else {
    absl::StrAppend(&message, " Writers seen: ", absl::StrJoin(*writers, "; "));
  }
  // The command on a line of its own, nothing after it: pasted as it is.
  absl::StrAppend(
      &message, "\nnext: run ",
      NextCommand({direction == Direction::kForward ? "backfill" : "rollback"}, ctx.options));
  return WithExitCode(absl::AbortedError(message), kExitLabelsArriving);
}

}  // namespace

absl::StatusOr<int64_t> RowsToRelabel(PhaseContext& ctx, const StatusPlan& plan,
                                      Direction direction) {
  const std::string labels = TextArrayLiteral(FromLabels(direction));
  int64_t rows = 0;
  absl::Status read = ctx.db.Read([&](Tx& tx) {
    for (const PlanObject* c : ObjectsOfKind(plan, "column")) {
      rows += tx.Params(absl::StrCat("SELECT count(*) AS n FROM ", c->table(), " WHERE ",
                                     c->printed_column(), "::text = ANY ($1::text[])"),
                        labels)[0]["n"]
                  .as<int64_t>();
    }
  });
  if (!read.ok()) return read;
  return rows;
}

absl::StatusOr<RelabelOutcome> RelabelUntilDone(PhaseContext& ctx, const StatusPlan& plan,
                                                Direction direction) {
  RelabelOutcome outcome;
  // The capture trigger must know what this relabel records itself (a store
  // may have been expanded by an older migrator).
  absl::Status refreshed = ctx.db.Transaction("capture trigger", ctx.TableLocks(),
                                              [&](Tx& tx) { RefreshCapture(tx, ctx.store); });
  if (!refreshed.ok()) return refreshed;
  const absl::Time start = absl::Now();
  Backoff pause(absl::Milliseconds(100), absl::Seconds(5));
  const absl::StatusOr<int64_t> rows = RowsToRelabel(ctx, plan, direction);
  if (!rows.ok()) return rows.status();
  Progress progress(ctx.progress, direction == Direction::kForward ? "backfill" : "rollback", *rows,
                    ctx.options.progress_bar);
  while (true) {
    ++outcome.passes;
    if (absl::Status s = BookingsPass(ctx, direction, outcome, progress); !s.ok()) return s;
    for (const PlanObject* c : ObjectsOfKind(plan, "column")) {
      if (IsBookingStatus(*c, ctx.store)) continue;
      absl::StatusOr<int64_t> m = ColumnPass(ctx, *c, direction, progress);
      if (!m.ok()) return m.status();
      outcome.others += *m;
    }
    const absl::StatusOr<int64_t> left = RowsToRelabel(ctx, plan, direction);
    if (!left.ok()) return left.status();
    if (*left == 0) break;
    const bool out_of_time = ctx.options.max_duration > absl::ZeroDuration() &&
                             absl::Now() - start >= ctx.options.max_duration;
    if (outcome.passes >= ctx.options.max_passes || out_of_time) {
      progress.Finish();
      return StillArriving(ctx, *left, outcome.passes, direction);
    }
    pause.Wait();
  }
  progress.Finish();
  return outcome;
}

absl::StatusOr<std::vector<std::string>> LabelWriters(PhaseContext& ctx) {
  std::vector<std::string> lines;
  absl::Status read = ctx.db.Read([&](Tx& tx) {
    for (const pqxx::row& w : tx.Exec(
             R"(SELECT w.pid AS pid, w.role AS role, w.application AS application,
                       w.client AS client, w.writes AS writes, w."lastLabel" AS last_label,
                       w."lastAt"::text AS last_at,
                       EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = w.pid) AS connected
                FROM "StatusMigrationWriter" w ORDER BY w."lastAt" DESC LIMIT 20)")) {
      lines.push_back(absl::StrCat(
          "pid ", w["pid"].c_str(), " (role ", w["role"].c_str(), ", application \"",
          w["application"].c_str(), "\", client ", w["client"].c_str(), "): ", w["writes"].c_str(),
          " writes, last ", w["last_label"].c_str(), " at ", w["last_at"].c_str(),
          w["connected"].as<bool>() ? ", still connected" : ", gone"));
    }
  });
  if (!read.ok()) return read;
  return lines;
}

absl::Status ValidateInServiceRule(PhaseContext& ctx) {
  const std::string& rule = ctx.options.in_service_rule;
  if (rule.empty()) return absl::OkStatus();
  absl::StatusOr<std::vector<Token>> tokens = Tokenize(rule);
  if (!tokens.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--in-service-rule: ", tokens.status().message()));
  }
  int depth = 0;
  for (const Token& t : *tokens) {
    if (t.Is(TokenKind::kPunct, "(")) ++depth;
    if (t.Is(TokenKind::kPunct, ")") && --depth < 0) break;
    if (t.Is(TokenKind::kPunct, ";")) depth = -1;
    if (depth < 0) break;
  }
  if (depth != 0) {
    return absl::InvalidArgumentError(
        "--in-service-rule must be one condition (balanced parentheses, no ';'), e.g. "
        "'\"workStartedAt\" IS NOT NULL'");
  }
  pqxx::result r;
  std::string invalid;  // PostgreSQL's word on the rule, when it refused it
  absl::Status read = ctx.db.Read([&](Tx& tx) {
    try {
      r = tx.Params(absl::StrCat("SELECT (", rule, "\n) FROM ", ctx.store.table,
                                 " AS \"Booking\" WHERE $1 LIMIT 0"),
                    false);
    } catch (const pqxx::sql_error& e) {
      invalid = e.what();
    }
  });
  if (!read.ok()) return read;
  if (!invalid.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--in-service-rule is not a valid condition on \"Booking\": ", invalid));
  }
  if (r.column_type(0) != 16) {  // BOOLOID
    return absl::InvalidArgumentError(
        "--in-service-rule must be a condition (true or false) on \"Booking\"");
  }
  return absl::OkStatus();
}

}  // namespace booking::migrator
