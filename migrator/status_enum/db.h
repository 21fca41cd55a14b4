// Every statement of the status-enum change runs through Db: one place for
// the session's setup (the store's schema, row security, user triggers off),
// lock timeouts and their retry, the test hooks that make a crash or a
// failure happen at an exact statement, and the migrator's one translation of
// a failed statement into a status (StatusOfDbFailure, migrator/db_failure.h):
// nothing Db runs throws past it.
//
// Throwing: Tx's methods, and every function of status_enum/ taking a Tx&,
// throw libpqxx exceptions; they run only inside a callback given to Db
// (Transaction, Read), which catches them. Db's methods returning a status
// never throw; BeforeStatement (Tx calls it) throws the injected failure.
#ifndef MIGRATOR_STATUS_ENUM_DB_H_
#define MIGRATOR_STATUS_ENUM_DB_H_

#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "migrator/db_failure.h"
#include "pqxx/pqxx"

namespace booking::migrator {

// BOOKING_MIGRATOR_FAULT, for tests only: "kill-before=N" SIGKILLs the
// migrator just before its Nth statement (commits count as statements),
// "fail-ddl=N" fails its Nth DDL statement as PostgreSQL would fail it
// (SQLSTATE 2BP01), "fail-ddl-matching=TEXT" fails the first DDL statement
// whose text contains TEXT the same way, "stale-prepared=N" makes the server forget every
// prepared statement (DEALLOCATE ALL) just before the Nth run of one, so the
// server refuses it as it refuses a stale one, "count" logs how many
// statements ran. Unset: no hooks.
struct FaultPlan {
  int64_t kill_before_statement = 0;
  int64_t fail_ddl = 0;
  int64_t stale_prepared = 0;
  std::string fail_ddl_matching;  // fail the first DDL statement containing it
  bool report = false;
  static FaultPlan FromEnvironment();
};

// How long each statement waits for a lock, and how often a transaction
// that could not get its locks is tried again (with backoff).
struct RetryPolicy {
  absl::Duration lock_timeout;
  int attempts;
};

class Db;

// One transaction's statements. Its methods throw (libpqxx exceptions, and
// the injected failure of BOOKING_MIGRATOR_FAULT) into the Db call around
// them.
//
// Not thread safe: owned by one thread.
class Tx {
 public:
  // `generic_plans`: plan_cache_mode is set for the transaction already
  // (Db::Batch).
  Tx(Db& db, pqxx::transaction_base& txn, bool generic_plans = false)
      : db_(db), txn_(txn), generic_plans_(generic_plans) {}
  pqxx::result Exec(const std::string& sql);
  template <typename... Args>
  pqxx::result Params(const std::string& sql, Args&&... args);
  // The statement defined as `name` (Db::Define), prepared on the server once
  // per connection and run with a generic plan (planned once, not per call:
  // for a statement run again and again whose best plan does not depend on
  // the values passed, e.g. a range of the primary key). The first call in a
  // transaction sets plan_cache_mode for it (SET LOCAL). A statement the
  // server reports stale (SQLSTATE 0A000, e.g. its result type changed with
  // the enum) or gone (26000) is prepared anew; Db::Transaction then runs
  // its callback again.
  template <typename... Args>
  pqxx::result Prepared(const std::string& name, Args&&... args);
  // A schema change: counted apart for the fault hook. Between
  // BatchDdl() and the next read (Exec, Params, Prepared, raw) or the end of
  // the transaction, schema changes are sent together in one message: a
  // transaction holding a lock others wait for (contract's swap) pays one
  // round trip for them, not one each.
  void Ddl(const std::string& sql);
  void BatchDdl() { batching_ = true; }
  // Sends the batched schema changes (if any) now.
  void Flush();
  std::string Name(const std::string& raw) const { return txn_.quote_name(raw); }
  std::string Quote(const std::string& value) const { return txn_.quote(value); }
  pqxx::transaction_base& raw() {
    Flush();
    return txn_;
  }

 private:
  // The server's name of `name`, after the plan mode is set for this
  // transaction.
  std::string BeforePrepared(const std::string& name);

  Db& db_;
  pqxx::transaction_base& txn_;
  bool generic_plans_ = false;
  bool batching_ = false;
  std::string batch_;  // schema changes not sent yet, `;`-separated
};

// Not thread safe: owned by one thread.
class Db {
 public:
  Db(pqxx::connection& conn, FaultPlan faults);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Turns row security off (a query it would filter fails instead of
  // returning fewer rows) and user triggers and rules off for this session
  // where the role may (session_replication_role). The search_path is the
  // store's schema already (EnterStore).
  [[nodiscard]] absl::Status Prepare();
  bool replica_mode() const { return replica_mode_; }

  // Every method below catches whatever its statements or `fn` throw and
  // returns it as a status (StatusOfDbFailure): no exception leaves Db.

  // `fn` in one transaction under `policy`; a lock that could not be had in
  // time rolls it back and tries again, and so does a prepared statement
  // the server refused as stale (Tx::Prepared; a few times at most). `fn`
  // must be safe to run again. UNAVAILABLE when every attempt failed.
  [[nodiscard]] absl::Status Transaction(absl::string_view what, const RetryPolicy& policy,
                                         const std::function<void(Tx&)>& fn);
  // Transaction for a batch run again and again: BEGIN and its settings
  // (lock_timeout, and plan_cache_mode for Tx::Prepared's generic plans) go
  // in one message, so a batch of one prepared statement costs three round
  // trips (begin, statement, COMMIT) instead of five. Same retries as
  // Transaction. `fn` must let every exception out (a swallowed error
  // would leave the transaction aborted and COMMIT would roll it back).
  [[nodiscard]] absl::Status Batch(absl::string_view what, const RetryPolicy& policy,
                                   const std::function<void(Tx&)>& fn);
  // A read-only transaction (no retry: reads wait for nothing).
  [[nodiscard]] absl::Status Read(const std::function<void(Tx&)>& fn);
  // Read for a callback producing a value:
  //   absl::StatusOr<int> n = db.Read<int>([&](Tx& tx) { return ...; });
  template <typename T>
  [[nodiscard]] absl::StatusOr<T> Read(const std::function<T(Tx&)>& fn) {
    std::optional<T> value;
    absl::Status status = Read([&](Tx& tx) { value = fn(tx); });
    if (!status.ok()) return status;
    return *std::move(value);
  }
  // One statement outside a transaction (CREATE INDEX CONCURRENTLY), under
  // `policy`.
  [[nodiscard]] absl::Status Autocommit(absl::string_view what, const RetryPolicy& policy,
                                        const std::string& sql);

  // Defines `sql` as `name` for Tx::Prepared on this connection; a new `sql`
  // under a known name replaces it. Talks to no server (the statement is
  // prepared at its first use). Never throws.
  void Define(const std::string& name, const std::string& sql);

  std::string Name(const std::string& raw) { return conn_.quote_name(raw); }
  std::string Quote(const std::string& value) { return conn_.quote(value); }
  pqxx::connection& conn() { return conn_; }
  const FaultPlan& faults() const { return faults_; }

  // Bookkeeping for the fault hooks, before each statement, and before each
  // run of a prepared one (true: make the server forget it now).
  void BeforeStatement(bool ddl, absl::string_view sql = "");
  bool ForgetPreparedNow();
  // For Tx::Prepared: the server's name of the statement defined as `name`
  // (a new one if it was stale; throws std::invalid_argument for a name
  // never defined), and the note that the server refused it (stale or gone
  // when `e`'s SQLSTATE says so).
  std::string ServerName(const std::string& name);
  void NoteFailed(const std::string& name, const pqxx::sql_error& e);

 private:
  // A Define'd statement. The server knows it as "<name>_<generation>"; a
  // stale or replaced one is left there, unused, and prepared anew under the
  // next generation (libpqxx deallocates only outside a transaction).
  struct Definition {
    std::string sql;
    int generation = 0;
    bool stale = false;
  };
  // Whether a statement was refused as stale (and is prepared anew at its
  // next use).
  bool AnyStale() const;
  // `attempt` (one transaction) until it commits, under `policy`'s retries
  // for lock conflicts and the renewal of stale prepared statements.
  absl::Status Retrying(absl::string_view what, const RetryPolicy& policy,
                        const std::function<void()>& attempt);

  pqxx::connection& conn_;
  const FaultPlan faults_;
  bool replica_mode_ = false;
  int64_t statements_ = 0;
  int64_t ddl_statements_ = 0;
  int64_t prepared_runs_ = 0;
  std::map<std::string, Definition> definitions_;
};

template <typename... Args>
pqxx::result Tx::Params(const std::string& sql, Args&&... args) {
  Flush();
  db_.BeforeStatement(false);
  return txn_.exec_params(sql, std::forward<Args>(args)...);
}

template <typename... Args>
pqxx::result Tx::Prepared(const std::string& name, Args&&... args) {
  const std::string server_name = BeforePrepared(name);
  try {
    return txn_.exec_prepared(server_name, std::forward<Args>(args)...);
  } catch (const pqxx::sql_error& e) {
    db_.NoteFailed(name, e);
    throw;
  }
}

// The pages of `relation` (a table or partition) plus one: how far a scan by
// ctid ranges goes (the relabel and the swap's copy walk tables that way).
// Throws, like Tx: call it inside a Db callback.
int64_t RelationPages(Tx& tx, const std::string& relation);

}  // namespace booking::migrator

#endif  // MIGRATOR_STATUS_ENUM_DB_H_
