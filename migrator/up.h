// `migrator up` and `migrator status` for one store.
#ifndef MIGRATOR_UP_H_
#define MIGRATOR_UP_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "migrator/schema_steps.h"

namespace booking::migrator {

struct StoreTarget {
  StoreKind kind;
  std::string url;
};

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
