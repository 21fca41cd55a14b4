#include "migrator/ledger.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "migrator/db_failure.h"
#include "migrator/exit_codes.h"

namespace booking::migrator {
namespace {

int64_t LockKey(StoreKind store) {
  // Distinct keys, so two stores sharing one database still lock apart.
  return store == StoreKind::kBooking ? 0x6d69677261746f72 : 0x6d69677261746f73;
}

// Who holds the store's lock, for the message telling the caller to wait.
std::string LockHolder(pqxx::transaction_base& txn, StoreKind store) {
  const pqxx::result holder = txn.exec_params(
      R"(SELECT a.pid AS pid, COALESCE(a.application_name, '') AS application,
                COALESCE(a.client_addr::text, 'local') AS client,
                a.backend_start::text AS connected
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted
           AND ((l.classid::bigint << 32) | l.objid::bigint) = $1)",
      LockKey(store));
  if (holder.empty()) return "another session";
  const pqxx::row h = holder[0];
  return absl::StrCat("pid ", h["pid"].c_str(), " (", h["application"].c_str(), " from ",
                      h["client"].c_str(), ", connected ", h["connected"].c_str(), ")");
}

}  // namespace

absl::Status AcquireStoreLock(pqxx::connection& conn, StoreKind store, absl::Duration wait) {
  try {
    const absl::Time deadline = absl::Now() + wait;
    while (true) {
      pqxx::nontransaction txn(conn);
      if (txn.exec_params("SELECT pg_try_advisory_lock($1) AS locked", LockKey(store))[0]["locked"]
              .as<bool>()) {
        return absl::OkStatus();
      }
      if (absl::Now() >= deadline) {
        return absl::ResourceExhaustedError(
            absl::StrCat("another migrator run holds the ", StoreName(store),
                         " store's lock: ", LockHolder(txn, store),
                         "; wait for it to finish (or raise --lock-wait) and run again"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  } catch (const std::exception& e) {
    return StatusOfDbFailure(e);
  }
}

absl::Status EnsureLedger(pqxx::connection& conn) {
  try {
    pqxx::work txn(conn);
    txn.exec(R"(CREATE TABLE IF NOT EXISTS "MigrationLedger" (
                  step TEXT PRIMARY KEY,
                  checksum TEXT NOT NULL,
                  description TEXT NOT NULL,
                  "appliedAt" TIMESTAMPTZ NOT NULL DEFAULT now(),
                  "appliedBy" TEXT NOT NULL DEFAULT current_user))");
    txn.commit();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return StatusOfDbFailure(e);
  }
}

absl::StatusOr<std::map<std::string, std::string>> AppliedSteps(pqxx::connection& conn) {
  try {
    pqxx::read_transaction txn(conn);
    std::map<std::string, std::string> applied;
    if (txn.exec(R"(SELECT to_regclass('"MigrationLedger"') IS NULL AS missing)")[0]["missing"]
            .as<bool>()) {
      return applied;
    }
    for (const pqxx::row& row :
         txn.exec(R"(SELECT step AS step, checksum AS checksum FROM "MigrationLedger")")) {
      applied[row["step"].as<std::string>()] = row["checksum"].as<std::string>();
    }
    return applied;
  } catch (const std::exception& e) {
    return StatusOfDbFailure(e);
  }
}

absl::Status RecordStep(pqxx::work& txn, const Step& step) {
  try {
    txn.exec_params(
        R"(INSERT INTO "MigrationLedger" (step, checksum, description) VALUES ($1, $2, $3))",
        step.id, Checksum(step), step.description);
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return StatusOfDbFailure(e);
  }
}

absl::Status CheckLedger(const std::map<std::string, std::string>& applied, StoreKind store) {
  std::map<std::string, const Step*> known;
  for (const Step& step : StepsFor(store)) known[step.id] = &step;
  for (const auto& [id, checksum] : applied) {
    auto it = known.find(id);
    if (it == known.end()) {
      const StoreKind other =
          store == StoreKind::kBooking ? StoreKind::kHistory : StoreKind::kBooking;
      for (const Step& step : StepsFor(other)) {
        if (step.id != id) continue;
        return WithExitCode(  // both stores' steps in one ledger: a human must look
            absl::FailedPreconditionError(
                absl::StrCat("the ", StoreName(store), " store's ledger has step ", id, " of the ",
                             StoreName(other),
                             " store: this database holds both (or the URLs are swapped); "
                             "check each store's URL")),
            kExitLedgerConflict);
      }
      return WithExitCode(
          absl::FailedPreconditionError(absl::StrCat(
              "the ", StoreName(store), " store's ledger has step ", id,
              " which this migrator does not know: a newer migrator migrated it; use that one")),
          kExitLedgerConflict);
    }
    if (Checksum(*it->second) != checksum) {
      return WithExitCode(
          absl::FailedPreconditionError(absl::StrCat(
              "step ", id, " of the ", StoreName(store),
              " store was edited after it was applied "
              "(ledger checksum ",
              checksum.substr(0, 12), ", this migrator ", Checksum(*it->second).substr(0, 12),
              "); restore the step as applied and put the change in a new step")),
          kExitLedgerConflict);
    }
  }
  return absl::OkStatus();
}

}  // namespace booking::migrator
