// The phases of `migrator partition-history` (partition_history.h) that
// change the store, apart from the command that finds where it stands.
// Each throws what libpqxx throws (PartitionHistory catches at its boundary).
#ifndef MIGRATOR_PARTITION_STEPS_H_
#define MIGRATOR_PARTITION_STEPS_H_

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "migrator/partition_history.h"
#include "pqxx/pqxx"

namespace booking::migrator {

// Runs `body` in a transaction whose lock waits end at lock_timeout; a lock
// not had in time rolls it back and tries again after a pause, up to
// lock_retries times (then the lock_timeout error is thrown).
absl::Status WithShortLocks(pqxx::connection& conn, const PartitionOptions& options,
                            const std::function<absl::Status(pqxx::work&)>& body);

// FAILED_PRECONDITION (exit 6) naming each of `problems`.
absl::Status RefusedForDependents(const std::vector<std::string>& problems);

// The one short transaction: the partitioned table in place of the old one,
// which becomes its partition "BookingStatusHistory_before" up to `bound`
// (its validated CHECK). Checks the dependents again under the lock.
absl::Status SwapToPartitioned(pqxx::connection& conn, const PartitionOptions& options,
                               const std::string& bound, std::ostream& out);

// The monthly partitions from the first partition's end to --months-ahead
// months past now, each created (empty, its unique keys, its TRUNCATE
// trigger) and attached in a short transaction of its own; refuses a
// partition it did not make.
absl::Status EnsurePartitions(pqxx::connection& conn, const PartitionOptions& options,
                              std::ostream& out);

}  // namespace booking::migrator

#endif  // MIGRATOR_PARTITION_STEPS_H_
