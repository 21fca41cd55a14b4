// `migrator up` and `migrator status` for one store.
//
// No function here throws: what a statement throws is returned as a status
// (EnterStore: StatusOfDbFailure, migrator/db_failure.h; Up and PrintStatus
// also map their own statements' failures, a lost connection to exit 1).
#ifndef MIGRATOR_UP_H_
#define MIGRATOR_UP_H_

#include <memory>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "migrator/schema_steps.h"
#include "pqxx/pqxx"

namespace booking::migrator {

struct StoreTarget {
  StoreKind kind;
  std::string url;
  std::string schema;  // --schema: where the store is (empty: find it)
};

// A connection to the store's database, named "migrator". A URL naming a
// database the server does not have is usage (exit 2), naming the setting;
// an unreachable server is UNAVAILABLE (exit 1).
absl::StatusOr<std::unique_ptr<pqxx::connection>> ConnectStore(StoreKind kind,
                                                               const std::string& url);

// The table that tells where a store is ("Booking", "BookingStatusHistory").
std::string AnchorTable(StoreKind kind);

// Finds the store's schema (the one schema holding its anchor table, or
// `target.schema`) and works in it. With `create`, a store found nowhere
// goes to the connection's current schema (never beside an existing one).
// FAILED_PRECONDITION (exit 6) when the table is in several schemas, when
// the schema holds the other store instead (the URLs swapped), and, with
// `create`, when it holds no store but tables of neither.
absl::Status EnterStore(pqxx::connection& conn, const StoreTarget& target, bool create);

struct UpOptions {
  bool dry_run = false;
  absl::Duration lock_wait = absl::Seconds(60);    // for another migrator run
  absl::Duration lock_timeout = absl::Seconds(5);  // per statement, for table locks
  int lock_retries = 5;
};

// Applies the store's pending steps in order, each in one transaction with
// its ledger record. Running it again applies nothing.
absl::Status Up(const StoreTarget& target, const UpOptions& options, std::ostream& out);

// Applied and pending steps; `json` prints one JSON object.
absl::Status PrintStatus(const StoreTarget& target, bool json, std::ostream& out);

}  // namespace booking::migrator

#endif  // MIGRATOR_UP_H_
