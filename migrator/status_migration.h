// The phased change of "BookingStatus" from the old label set to the new one:
// expand, backfill, verify, contract, and rollback of each. Every phase is
// idempotent and resumable (its progress lives in the store, each batch is
// its own transaction), runs under the store's migrator lock, and never holds
// a lock that blocks writers on "Booking" for more than a moment.
#ifndef MIGRATOR_STATUS_MIGRATION_H_
#define MIGRATOR_STATUS_MIGRATION_H_

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pqxx/pqxx"

namespace booking::migrator {

struct PhaseOptions {
  bool dry_run = false;
  bool json = false;
  int batch_size = 1000;
  absl::Duration throttle = absl::ZeroDuration();  // pause between batches
  absl::Duration lock_timeout = absl::Seconds(2);  // per batch statement (row locks)
  int lock_retries = 20;                           // per batch
  // For statements that need a table lock writers conflict with (new label,
  // shadow column, trigger, swap): while such a request waits, every writer
  // queues behind it, so it gives up quickly and tries again.
  absl::Duration ddl_lock_timeout = absl::Milliseconds(200);
  int ddl_lock_retries = 100;
  std::string in_service_rule;  // SQL predicate on "Booking"
  absl::Duration compatibility_window = absl::Hours(24 * 14);
  bool force = false;  // contract before the window has passed
  bool progress_bar = false;
};

// Exit-code-relevant outcomes: FAILED_PRECONDITION = refused (the phase's
// preconditions do not hold; the message says what to do); DATA_LOSS =
// verify found rows that are not what they should be (report printed).
class StatusMigration {
 public:
  StatusMigration(pqxx::connection& conn, PhaseOptions options, std::ostream& out,
                  std::ostream& progress);

  absl::Status PrintStatus();
  absl::Status Expand();
  absl::Status Backfill();
  absl::Status Verify();
  absl::Status Contract();
  // Undoes the latest phase; with `undo` ("contract", "backfill" or
  // "expand") only that one, so that a rerun changes nothing.
  absl::Status Rollback(const std::string& undo = "");

 private:
  std::string Phase();
  // Labels of `wanted` the type lacks, in `wanted`'s order.
  std::vector<std::string> MissingLabels(const std::vector<std::string>& wanted);
  absl::Status AddLabels(const std::vector<std::string>& labels);
  void SetPhase(const std::string& from, const std::string& to, const std::string& action,
                const std::string& detail);
  // Relabels rows (bookings with history, other tables plainly) until no
  // label of `from_labels` is left; returns rows changed.
  absl::StatusOr<int64_t> RelabelBookings(bool rollback);
  absl::StatusOr<int64_t> RelabelOtherColumns(bool rollback);
  // Verify's checks; fills `report`; OK when everything holds.
  absl::Status Check(std::string* report);
  // Replaces the enum type by one with `labels` without a long lock.
  absl::Status SwapType(const std::vector<std::string>& labels, bool forward);
  absl::Status WithLockRetry(const std::string& what, const std::function<void(pqxx::work&)>& fn);
  // The same with the short DDL lock timeout.
  absl::Status WithTableLockRetry(const std::string& what,
                                  const std::function<void(pqxx::work&)>& fn);
  absl::Status Retry(const std::string& what, absl::Duration timeout, int retries,
                     const std::function<void(pqxx::work&)>& fn);

  pqxx::connection& conn_;
  const PhaseOptions options_;
  std::ostream& out_;
  std::ostream& progress_;
};

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_MIGRATION_H_
