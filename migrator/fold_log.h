// `migrator fold-log`: folds the history rows written before the
// transparency log (schema step 0012_history_log_tree) into its Merkle tree,
// in batches of --batch-size rows, each one transaction under the tree's
// lock (history-service/log_tree.h: IntegrateRows), so nothing waits long and
// a run killed at any point leaves a prefix of the tree the next run (or
// history-service's sequencer, which folds too while it runs) extends. It
// ends once every older row is in and the tree has caught up with the feed.
// Thread safety: a function of its arguments.
#ifndef MIGRATOR_FOLD_LOG_H_
#define MIGRATOR_FOLD_LOG_H_

#include <ostream>

#include "absl/status/status.h"
#include "migrator/up.h"

namespace booking::migrator {

// FAILED_PRECONDITION (exit 6) before step 0012 (run `migrator up`); the
// tree refusing to extend (DATA_LOSS) ends the run (exit 8). `dry_run`:
// where the fold stands, nothing changed.
absl::Status FoldLog(const StoreTarget& target, int batch, bool dry_run, std::ostream& out);

}  // namespace booking::migrator

#endif  // MIGRATOR_FOLD_LOG_H_
