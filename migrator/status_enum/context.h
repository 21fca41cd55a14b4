// What every phase of the status-enum change works with: the session, the
// store, the operator's options and where to report.
#ifndef MIGRATOR_STATUS_ENUM_CONTEXT_H_
#define MIGRATOR_STATUS_ENUM_CONTEXT_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "migrator/status_enum/db.h"
#include "migrator/status_enum/inventory.h"
#include "pqxx/pqxx"

namespace booking::migrator {

struct PhaseOptions {
  bool dry_run = false;
  bool json = false;
  int batch_size = 1000;
  // Backfill (and its rollback): sessions relabelling "Booking".status at
  // once, each its own range of ids (relabel_workers.h).
  int workers = 2;
  absl::Duration throttle = absl::ZeroDuration();  // pause between batches
  absl::Duration lock_timeout = absl::Seconds(2);  // per batch statement (row locks)
  int lock_retries = 20;                           // per batch
  // For statements that need a table lock writers conflict with (new label,
  // shadow column, trigger, swap): while such a request waits, every writer
  // queues behind it, so it gives up quickly and tries again.
  absl::Duration ddl_lock_timeout = absl::Milliseconds(40);
  int ddl_lock_retries = 100;
  // How long to wait for transactions older than a switch of the writers'
  // label set, and for CREATE INDEX CONCURRENTLY's waits.
  absl::Duration wait_for_transactions = absl::Minutes(5);
  std::string in_service_rule;  // SQL condition on "Booking"
  absl::Duration compatibility_window = absl::Hours(24 * 14);
  bool force = false;  // contract before the window has passed
  bool progress_bar = false;
  // Backfill (and rollback of it) stop after this many passes, or this long
  // (zero: no limit), when labels keep arriving.
  int max_passes = 20;
  absl::Duration max_duration = absl::ZeroDuration();
  std::vector<std::string> assume_handled;
};

struct PhaseContext {
  Db& db;
  StoreInfo store;
  const PhaseOptions& options;
  std::ostream& out;
  std::ostream& progress;
  // A new session on the store, set up as the phase's own (EnterStore):
  // for the relabel's workers.
  std::function<absl::StatusOr<std::unique_ptr<pqxx::connection>>()> open_session;

  RetryPolicy RowLocks() const { return {options.lock_timeout, options.lock_retries}; }
  RetryPolicy TableLocks() const { return {options.ddl_lock_timeout, options.ddl_lock_retries}; }
  RetryPolicy LongWaits() const { return {options.wait_for_transactions, 3}; }
};

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_CONTEXT_H_
