// Support for the kill/fault matrix of the status-enum change: a digest of
// everything a store holds (to compare an interrupted-then-finished run with
// an uninterrupted one), the migrator's own leftovers, the history chain's
// consistency, the statement counts the fault hook reports, and cheap
// clones of a prepared store (CREATE DATABASE ... TEMPLATE).
#ifndef TESTS_SUPPORT_KILL_STEPS_H_
#define TESTS_SUPPORT_KILL_STEPS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pqxx/pqxx"
#include "tests/support/pg_cluster.h"

namespace booking::testing {

// kFull: every row of every table (ids, timestamps and log lines a rerun
// cannot reproduce left out: outbox ids, event UUIDs, migration log) and
// every schema object. kApp: what the application sees: no versions, no
// history, no migration bookkeeping (exact labels, backup references).
// kState: kFull plus the migration log's entries: everything a migrator run
// reads, to tell two interrupted stores apart.
enum class DigestKind { kFull, kApp, kState };

// Section name -> sorted lines (e.g. "rows \"Booking\"", "indexes", "labels").
using StoreDigest = std::map<std::string, std::string>;

StoreDigest DigestOf(const std::string& url, DigestKind kind);

// The whole digest as one string (a map key for equal stores).
std::string DigestText(const StoreDigest& digest);

// The sections that differ, with the lines only one side has (capped), or
// "" when equal.
std::string DigestDiff(const StoreDigest& expected, const StoreDigest& actual);

// Objects of the migrator's naming (__next, __wide, __next_sync, the
// __next type, shadow columns, constraints), one per line; "" when none.
std::string MigratorLeftovers(const std::string& url);

// Bookings whose outbox events do not form their history exactly once:
// sequences 1..version each once, each event's fromStatus the previous
// event's toStatus. One line per booking; "" when all hold.
std::string HistoryProblems(const std::string& url);

// The migrator on `url` with BOOKING_MIGRATOR_FAULT=`fault` (unset when
// empty); its exit code (137 when it SIGKILLed itself) and output.
struct FaultRun {
  int exit_code = -1;
  std::string output;
};
FaultRun RunMigratorWithFault(const PgCluster& pg, const std::string& url,
                              std::vector<std::string> args, const std::string& fault);

// The `{"msg":"statements run",...}` line BOOKING_MIGRATOR_FAULT=count logs.
struct StepCount {
  int64_t statements = 0;
  int64_t ddl = 0;
};
absl::StatusOr<StepCount> ParseStepCount(const std::string& migrator_output);

// One session on the cluster's "postgres" database: cheap clones of a
// prepared store (CREATE DATABASE ... TEMPLATE), drops, and what a finished
// session left in a database.
class ClusterAdmin {
 public:
  explicit ClusterAdmin(const PgCluster& pg);

  // A copy of `source` named `name`, once nobody is connected to `source`
  // (a killed migrator's backend ends by itself, soon). Returns its URL.
  std::string Clone(const std::string& source, const std::string& name);
  void Drop(const std::string& name);
  // Waits (polling pg_stat_activity, up to a minute) until no session is
  // connected to `database`, then returns how many transactions have
  // committed in it (pg_stat_database; a session's counts are flushed
  // before it leaves pg_stat_activity). -1 on timeout.
  int64_t CommitsOnceIdle(const std::string& database);

 private:
  const PgCluster& pg_;
  pqxx::connection conn_;
};

// fn(worker, i) for i in 0..count-1 on `threads` threads (worker 0..threads-1),
// each i once.
void ParallelFor(int count, int threads, const std::function<void(int, int)>& fn);

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_KILL_STEPS_H_
