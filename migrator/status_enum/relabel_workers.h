// The batches of one relabel pass over "Booking".status, run by one worker
// on the phase's own session or by several, each on its own session and
// its own contiguous range of ids (--workers). Every guarantee of a batch
// (relabel.h, relabel_sql.h) holds per worker: the ranges are disjoint, so
// no two workers lock the same row; a row a writer holds is skipped (SKIP
// LOCKED) and taken by a later pass, which finds what is left by the labels
// the rows hold, not by a cursor, so a killed run's rerun continues.
// --throttle pauses each worker after each of its batches.
#ifndef MIGRATOR_STATUS_ENUM_RELABEL_WORKERS_H_
#define MIGRATOR_STATUS_ENUM_RELABEL_WORKERS_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "migrator/status_enum/context.h"
#include "migrator/status_enum/progress.h"
#include "migrator/status_enum/relabel.h"

namespace booking::migrator {

// The ids after `after` up to `last` ("" for no end; "" `after` for no
// start).
struct IdRange {
  std::string after;
  std::string last;
};

// The batch statement of a pass and its arguments (relabel_sql.h).
struct BatchJob {
  std::string sql;     // BookingBatchSql
  std::string labels;  // $1, a text[] literal
  std::string reason;  // $4
};

// What the batches of a pass add up to, and the first failure of a worker
// (the others then stop after their current batch).
//
// Thread safe.
class PassTally {
 public:
  PassTally(RelabelOutcome& outcome, Progress& progress) : outcome_(outcome), progress_(progress) {}
  void Add(int64_t relabelled, int64_t moved, absl::Duration took);
  void Fail(const absl::Status& status);
  bool failed() const;
  absl::Status status() const;

 private:
  mutable std::mutex mu_;
  RelabelOutcome& outcome_;  // guarded by mu_
  Progress& progress_;       // guarded by mu_
  absl::Status status_;      // guarded by mu_
};

// `workers` contiguous ranges, in id order, covering every id (the last
// one open-ended, so bookings created meanwhile are covered too); fewer
// when the table has fewer ids than workers.
absl::StatusOr<std::vector<IdRange>> SplitIds(PhaseContext& ctx, int workers);

// `range` batch by batch (--batch-size ids each) on `db`, until no id of
// it is left or `tally` has failed.
absl::Status RelabelRange(PhaseContext& ctx, Db& db, const BatchJob& job, const IdRange& range,
                          PassTally& tally);

// Each range on a session of its own (PhaseContext::open_session), all at
// once; the first failure, if any.
absl::Status RelabelInParallel(PhaseContext& ctx, const BatchJob& job,
                               const std::vector<IdRange>& ranges, PassTally& tally);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_RELABEL_WORKERS_H_
