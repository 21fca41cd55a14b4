// Per store: the ledger of applied steps (with checksums) and the advisory
// lock that keeps two migrator runs from interleaving.
//
// No function here throws: a failed statement is returned as a status
// (StatusOfDbFailure, migrator/db_failure.h: exit 1 when a retry can help,
// else exit 8).
#ifndef MIGRATOR_LEDGER_H_
#define MIGRATOR_LEDGER_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "migrator/schema_steps.h"
#include "pqxx/pqxx"

namespace booking::migrator {

// Waits up to `wait` for the store's migrator lock (a session advisory lock,
// released when the connection closes, so a killed run never leaves it held).
// RESOURCE_EXHAUSTED names the holder when it stays busy.
absl::Status AcquireStoreLock(pqxx::connection& conn, StoreKind store, absl::Duration wait);

// Creates "MigrationLedger" if missing.
absl::Status EnsureLedger(pqxx::connection& conn);

// step id -> checksum; empty when the ledger does not exist yet.
absl::StatusOr<std::map<std::string, std::string>> AppliedSteps(pqxx::connection& conn);

// Records `step` inside the transaction that applied it. On an error the
// transaction is spoilt: the caller drops it (its destructor rolls it back).
absl::Status RecordStep(pqxx::work& txn, const Step& step);

// FAILED_PRECONDITION when an applied step was edited since, or the ledger
// holds a step this migrator does not know (a newer migrator ran).
absl::Status CheckLedger(const std::map<std::string, std::string>& applied, StoreKind store);

}  // namespace booking::migrator

#endif  // MIGRATOR_LEDGER_H_
