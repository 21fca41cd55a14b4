// `migrator fold-log`: folds the history rows written before the
// transparency log (schema step 0012_history_log_tree) into its Merkle tree,
// in batches of at most --batch-size rows, each one transaction under the
// tree's lock and shortened to end within --batch-time (common/batch_sizer.h)
// (history-service/log_tree.h: IntegrateRows), so nothing waits long and a run killed at any point
// leaves a prefix of the tree the next run (or history-service's sequencer, which folds too while
// it runs) extends. It ends once every older row is in and the tree has caught up with the feed.
// Thread safety: a function of its arguments.
#ifndef MIGRATOR_FOLD_LOG_H_
#define MIGRATOR_FOLD_LOG_H_

#include <ostream>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "migrator/up.h"

namespace booking::migrator {

struct FoldOptions {
  int batch = 1000;                                     // most rows a transaction
  absl::Duration batch_time = absl::Milliseconds(100);  // a batch's budget; 0: none
  bool dry_run = false;                                 // where the fold stands, nothing changed
};

// FAILED_PRECONDITION (exit 6) before step 0012 (run `migrator up`); the
// tree refusing to extend (DATA_LOSS) ends the run (exit 8).
absl::Status FoldLog(const StoreTarget& target, const FoldOptions& options, std::ostream& out);

}  // namespace booking::migrator

#endif  // MIGRATOR_FOLD_LOG_H_
