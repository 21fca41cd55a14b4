// `migrator partition-history`: turns "BookingStatusHistory" into a table
// partitioned by month of "recordedAt" (PostgreSQL declarative range
// partitioning) without a long lock, and keeps partitions created ahead.
//
// The table as it is becomes the first partition, "BookingStatusHistory_before",
// holding every row recorded before a month boundary B at least a month
// ahead (so that it takes the rows recorded until the change and a while
// after): a CHECK ("recordedAt" < B) added NOT VALID (no scan) and
// validated in a transaction of its own (a scan that blocks no writer); then
// one short transaction (lock_timeout, retried) creates the partitioned
// table with the old one's columns, defaults and checks, its indexes (the
// old table's match them and are attached, none is built), its triggers
// (append-only, global keys: schema steps 0002 and 0014), the grants, and
// attaches the old table by its validated CHECK (no scan). Monthly
// partitions "BookingStatusHistory_yYYYYmMM" follow from B to --months-ahead
// months past now, each created empty with its own unique keys and attached.
//
// Default deny: the run refuses before anything changes when the table has
// any dependent object the change does not know (a view, rule, policy,
// foreign key, publication, extended statistics, an index or trigger of its
// own, a function taking its row type, a child table) or any partition
// bound other than the one it makes, naming each. Each phase finds from the
// catalog where the last run stopped: a run killed at any point is finished
// by the next one. Running it again on a partitioned table only creates the
// partitions ahead that are missing (a CronJob's work).
// Thread safety: a function of its arguments.
#ifndef MIGRATOR_PARTITION_HISTORY_H_
#define MIGRATOR_PARTITION_HISTORY_H_

#include <ostream>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "migrator/up.h"

namespace booking::migrator {

struct PartitionOptions {
  int months_ahead = 3;                          // partitions past the current month
  absl::Duration lock_wait = absl::Seconds(60);  // for another migrator run
  // Each table lock is waited for this long at most (writers queue behind
  // a waiting ACCESS EXCLUSIVE), then tried again after a pause, this often.
  absl::Duration lock_timeout = absl::Milliseconds(40);
  int lock_retries = 50;
  bool dry_run = false;  // what a run would do; nothing changed
};

// FAILED_PRECONDITION (exit 6) before schema step 0014 (run `migrator up`)
// and for what the default deny refuses; nothing changed then.
absl::Status PartitionHistory(const StoreTarget& target, const PartitionOptions& options,
                              std::ostream& out);

}  // namespace booking::migrator

#endif  // MIGRATOR_PARTITION_HISTORY_H_
