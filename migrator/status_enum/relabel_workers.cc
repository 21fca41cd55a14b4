#include "migrator/status_enum/relabel_workers.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace booking::migrator {
namespace {

// The batch statement of "Booking".status (BookingBatchSql), prepared once
// per session.
constexpr char kBatchStatement[] = "relabel_booking_batch";

absl::Status RunWorker(PhaseContext& ctx, const BatchJob& job, const IdRange& range,
                       PassTally& tally) {
  if (!ctx.open_session) return absl::InternalError("no way to open a worker's session");
  absl::StatusOr<std::unique_ptr<pqxx::connection>> conn = ctx.open_session();
  if (!conn.ok()) return conn.status();
  Db db(**conn, ctx.db.faults());
  if (absl::Status s = db.Prepare(); !s.ok()) return s;
  return RelabelRange(ctx, db, job, range, tally);
}

}  // namespace

void PassTally::Add(int64_t relabelled, int64_t moved, absl::Duration took) {
  std::lock_guard<std::mutex> lock(mu_);
  outcome_.longest_batch = std::max(outcome_.longest_batch, took);
  outcome_.bookings += relabelled;
  outcome_.status_changes += moved;
  progress_.Add(relabelled);
}

void PassTally::Fail(const absl::Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (status_.ok()) status_ = status;
}

bool PassTally::failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !status_.ok();
}

absl::Status PassTally::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

absl::StatusOr<std::vector<IdRange>> SplitIds(PhaseContext& ctx, int workers) {
  std::vector<std::string> lasts;  // the last id of every range but the last
  absl::Status read = ctx.db.Read([&](Tx& tx) {
    const pqxx::result r = tx.Params(
        absl::StrCat("SELECT max(id) AS last FROM (SELECT id, ntile($1) OVER (ORDER BY id) AS part "
                     "FROM ",
                     ctx.store.table, ") AS s GROUP BY part ORDER BY part"),
        workers);
    for (int i = 0; i + 1 < static_cast<int>(r.size()); ++i) {
      lasts.push_back(r[i]["last"].as<std::string>());
    }
  });
  if (!read.ok()) return read;
  std::vector<IdRange> ranges;
  std::string after;
  for (const std::string& last : lasts) {
    ranges.push_back({after, last});
    after = last;
  }
  ranges.push_back({after, ""});
  return ranges;
}

absl::Status RelabelRange(PhaseContext& ctx, Db& db, const BatchJob& job, const IdRange& range,
                          PassTally& tally) {
  db.Define(kBatchStatement, job.sql);
  std::string after = range.after;
  while (!tally.failed()) {
    std::optional<std::string> upper;
    int64_t relabelled = 0, moved = 0;
    const absl::Time start = absl::Now();
    absl::Status s = db.Batch("relabel batch", ctx.RowLocks(), [&](Tx& tx) {
      const pqxx::row r = tx.Prepared(kBatchStatement, job.labels, after, ctx.options.batch_size,
                                      job.reason, range.last)[0];
      upper.reset();
      if (!r["upper"].is_null()) upper = r["upper"].as<std::string>();
      relabelled = r["relabelled"].as<int64_t>();
      moved = r["moved"].as<int64_t>();
    });
    if (!s.ok()) return s;
    if (!upper.has_value()) break;
    tally.Add(relabelled, moved, absl::Now() - start);
    after = *upper;
    if (ctx.options.throttle > absl::ZeroDuration()) absl::SleepFor(ctx.options.throttle);
  }
  return absl::OkStatus();
}

absl::Status RelabelInParallel(PhaseContext& ctx, const BatchJob& job,
                               const std::vector<IdRange>& ranges, PassTally& tally) {
  std::vector<std::thread> threads;
  threads.reserve(ranges.size());
  for (const IdRange& range : ranges) {
    threads.emplace_back([&ctx, &job, &tally, range] {
      // Nothing a worker runs throws past Db; this catch is the last-resort
      // guard (std::bad_alloc and the like) a thread must have.
      try {
        if (absl::Status s = RunWorker(ctx, job, range, tally); !s.ok()) tally.Fail(s);
      } catch (const std::exception& e) {
        tally.Fail(StatusOfDbFailure(e));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return tally.status();
}

}  // namespace booking::migrator
