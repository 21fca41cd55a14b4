// Batch sizes that keep each batch's transaction near a time budget: the one
// rule for jobs that hold a lock per batch (the log's fold and the feed's
// sequencer integrating rows, history-service/log_tree.h), so a batch's cost
// growing with the store (deeper indexes, colder pages) shortens the batch
// instead of the lock's hold growing with it.
//
//   BatchSizer sizer(5000, absl::Milliseconds(100));
//   for (;;) {
//     const int rows = sizer.next();
//     const absl::Time start = absl::Now();
//     int done = RunBatch(rows);
//     sizer.Done(done, absl::Now() - start);
//   }
//
// After each batch the next size is the rows the last one would have done in
// the budget at its measured rate, at most twice the last size (one fast
// batch on a warm cache does not jump to the maximum), between `min_rows`
// and `max_rows`.
#ifndef BOOKING_COMMON_BATCH_SIZER_H_
#define BOOKING_COMMON_BATCH_SIZER_H_

#include "absl/time/time.h"

namespace booking {

// Not thread safe: owned by one loop.
class BatchSizer {
 public:
  // Starts at `min_rows` (a store where a batch is slow is never held
  // longer than the budget's first measure), growing from there. A zero
  // `budget` turns sizing off (every batch `max_rows`).
  BatchSizer(int max_rows, absl::Duration budget, int min_rows = 50);

  int next() const { return next_; }
  int max_rows() const { return max_rows_; }

  // A batch of `rows` rows (a short batch, the last of a run, tells nothing
  // when it is quick) took `took`.
  void Done(int rows, absl::Duration took);

 private:
  const int max_rows_;
  const int min_rows_;
  const absl::Duration budget_;
  int next_;
};

}  // namespace booking

#endif  // BOOKING_COMMON_BATCH_SIZER_H_
