#include "migrator/status_enum/db.h"

#include <signal.h>

#include <cstdlib>
#include <stdexcept>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/backoff.h"
#include "common/log.h"

namespace booking::migrator {
namespace {

// How often one Transaction call prepares stale statements anew.
constexpr int kRenewals = 3;

// What the server says of a prepared statement it will not run as prepared:
// its plan would change its result type (0A000, "cached plan must not change
// result type", e.g. after the enum type changed) or it does not exist
// (26000).
bool IsStalePrepared(const pqxx::sql_error& e) {
  return e.sqlstate() == "0A000" || e.sqlstate() == "26000";
}

bool IsLockConflict(const pqxx::sql_error& e) {
  const std::string& state = e.sqlstate();
  return state == "55P03" || state == "40P01" || state == "40001";
}

// A failure as PostgreSQL reports one that no retry gets past.
class InjectedFailure : public pqxx::sql_error {
 public:
  explicit InjectedFailure(const std::string& sql)
      : pqxx::sql_error("injected failure (BOOKING_MIGRATOR_FAULT): cannot run: " + sql, sql,
                        "2BP01") {}
};

}  // namespace

FaultPlan FaultPlan::FromEnvironment() {
  FaultPlan plan;
  const char* env = std::getenv("BOOKING_MIGRATOR_FAULT");
  if (env == nullptr) return plan;
  absl::string_view spec(env);
  plan.report = true;
  if (absl::ConsumePrefix(&spec, "kill-before=")) {
    (void)absl::SimpleAtoi(spec, &plan.kill_before_statement);
  } else if (absl::ConsumePrefix(&spec, "fail-ddl=")) {
    (void)absl::SimpleAtoi(spec, &plan.fail_ddl);
  } else if (absl::ConsumePrefix(&spec, "fail-ddl-matching=")) {
    plan.fail_ddl_matching = std::string(spec);
  } else if (absl::ConsumePrefix(&spec, "stale-prepared=")) {
    (void)absl::SimpleAtoi(spec, &plan.stale_prepared);
  }
  return plan;
}

pqxx::result Tx::Exec(const std::string& sql) {
  Flush();
  db_.BeforeStatement(false);
  return txn_.exec(sql);
}

void Tx::Ddl(const std::string& sql) {
  db_.BeforeStatement(true, sql);
  if (!batching_) {
    txn_.exec(sql);
    return;
  }
  absl::StrAppend(&batch_, batch_.empty() ? "" : ";\n", sql);
}

void Tx::Flush() {
  if (batch_.empty()) return;
  const std::string batch = std::move(batch_);
  batch_.clear();
  txn_.exec(batch);
}

std::string Tx::BeforePrepared(const std::string& name) {
  Flush();
  std::string server_name = db_.ServerName(name);
  if (!generic_plans_) {
    Exec("SET LOCAL plan_cache_mode = force_generic_plan");
    generic_plans_ = true;
  }
  if (db_.ForgetPreparedNow()) txn_.exec("DEALLOCATE ALL");
  db_.BeforeStatement(false);
  return server_name;
}

Db::Db(pqxx::connection& conn, FaultPlan faults) : conn_(conn), faults_(faults) {}

Db::~Db() {
  if (faults_.report) {
    LogInfo("statements run",
            {{"statements", absl::StrCat(statements_)}, {"ddl", absl::StrCat(ddl_statements_)}});
  }
}

absl::Status Db::Prepare() {
  try {
    pqxx::nontransaction txn(conn_);
    txn.exec("SET row_security = off");
    // Our own copies and relabels must fire no user trigger or rule; only a
    // superuser or a role granted SET on this parameter may turn them off.
    const pqxx::row r =
        txn.exec("SELECT has_parameter_privilege('session_replication_role', 'SET') AS may_set")[0];
    replica_mode_ = r["may_set"].as<bool>();
    if (replica_mode_) txn.exec("SET session_replication_role = replica");
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return StatusOfDbFailure(e);
  }
}

void Db::BeforeStatement(bool ddl, absl::string_view sql) {
  ++statements_;
  if (ddl) ++ddl_statements_;
  if (faults_.kill_before_statement > 0 && statements_ == faults_.kill_before_statement) {
    LogWarning("BOOKING_MIGRATOR_FAULT: killing myself",
               {{"statement", absl::StrCat(statements_)}});
    ::raise(SIGKILL);
  }
  if (ddl && faults_.fail_ddl > 0 && ddl_statements_ == faults_.fail_ddl) {
    throw InjectedFailure(absl::StrCat("DDL statement ", ddl_statements_));
  }
  if (ddl && !faults_.fail_ddl_matching.empty() &&
      absl::StrContains(sql, faults_.fail_ddl_matching)) {
    throw InjectedFailure(std::string(sql));
  }
}

void Db::Define(const std::string& name, const std::string& sql) {
  Definition& d = definitions_[name];
  if (d.sql == sql && !d.stale) return;
  if (!d.sql.empty()) ++d.generation;  // the old one stays on the server, unused
  d.sql = sql;
  d.stale = false;
  try {
    conn_.prepare(absl::StrCat(name, "_", d.generation), sql);
  } catch (const std::exception& e) {  // only a name defined twice: not here
    LogWarning("cannot define prepared statement", {{"statement", name}, {"error", e.what()}});
  }
}

std::string Db::ServerName(const std::string& name) {
  const auto it = definitions_.find(name);
  if (it == definitions_.end()) {
    throw std::invalid_argument("prepared statement " + name + " was never defined");
  }
  if (it->second.stale) {
    LogWarning("prepared statement stale; preparing it anew", {{"statement", name}});
    Define(name, it->second.sql);
  }
  return absl::StrCat(name, "_", it->second.generation);
}

void Db::NoteFailed(const std::string& name, const pqxx::sql_error& e) {
  const auto it = definitions_.find(name);
  if (it != definitions_.end() && IsStalePrepared(e)) it->second.stale = true;
}

bool Db::AnyStale() const {
  for (const auto& [name, d] : definitions_) {
    if (d.stale) return true;
  }
  return false;
}

bool Db::ForgetPreparedNow() {
  ++prepared_runs_;
  if (faults_.stale_prepared == 0 || prepared_runs_ != faults_.stale_prepared) return false;
  LogWarning("BOOKING_MIGRATOR_FAULT: forgetting prepared statements",
             {{"run", absl::StrCat(prepared_runs_)}});
  return true;
}

namespace {

std::string LockTimeoutSql(const RetryPolicy& policy) {
  return absl::StrCat("SET LOCAL lock_timeout = ",
                      std::max<int64_t>(1, absl::ToInt64Milliseconds(policy.lock_timeout)));
}

}  // namespace

absl::Status Db::Transaction(absl::string_view what, const RetryPolicy& policy,
                             const std::function<void(Tx&)>& fn) {
  return Retrying(what, policy, [&] {
    pqxx::work txn(conn_);
    Tx tx(*this, txn);
    tx.Exec(LockTimeoutSql(policy));
    fn(tx);
    tx.Flush();
    BeforeStatement(false);
    txn.commit();
  });
}

absl::Status Db::Batch(absl::string_view what, const RetryPolicy& policy,
                       const std::function<void(Tx&)>& fn) {
  return Retrying(what, policy, [&] {
    // The transaction is ours (BEGIN ... COMMIT as plain statements), so
    // BEGIN travels with its settings in one simple-query message.
    pqxx::nontransaction txn(conn_);
    Tx tx(*this, txn, /*generic_plans=*/true);
    BeforeStatement(false);
    txn.exec(absl::StrCat("BEGIN; ", LockTimeoutSql(policy),
                          "; SET LOCAL plan_cache_mode = force_generic_plan"));
    try {
      fn(tx);
      tx.Flush();
      BeforeStatement(false);
      txn.exec("COMMIT");
    } catch (...) {
      try {
        txn.exec("ROLLBACK");
      } catch (const std::exception&) {  // the connection is gone: nothing to roll back
      }
      throw;
    }
  });
}

absl::Status Db::Retrying(absl::string_view what, const RetryPolicy& policy,
                          const std::function<void()>& attempt_once) {
  Backoff backoff(absl::Milliseconds(50), absl::Seconds(2));
  int renewals = 0;
  for (int attempt = 1;; ++attempt) {
    try {
      attempt_once();
      LogDebug("step committed", {{"step", std::string(what)}, {"attempt", absl::StrCat(attempt)}});
      return absl::OkStatus();
    } catch (const pqxx::sql_error& e) {
      if (IsStalePrepared(e) && renewals < kRenewals && AnyStale()) {
        ++renewals;
        --attempt;  // no lock was missed; the statement is prepared anew at its next use
        continue;
      }
      if (!IsLockConflict(e)) return StatusOfDbFailure(e);
      if (attempt >= policy.attempts) {
        return absl::UnavailableError(absl::StrCat(
            what, ": could not get its locks in ", attempt,
            " attempts (other sessions hold them); run the phase again later, or raise "
            "--lock-timeout"));
      }
      LogWarning("lock not available; retrying",
                 {{"step", std::string(what)}, {"attempt", absl::StrCat(attempt)}});
      backoff.Wait();
    } catch (const std::exception& e) {
      return StatusOfDbFailure(e);
    }
  }
}

absl::Status Db::Read(const std::function<void(Tx&)>& fn) {
  try {
    pqxx::read_transaction txn(conn_);
    Tx tx(*this, txn);
    fn(tx);
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return StatusOfDbFailure(e);
  }
}

absl::Status Db::Autocommit(absl::string_view what, const RetryPolicy& policy,
                            const std::string& sql) {
  Backoff backoff(absl::Milliseconds(50), absl::Seconds(2));
  for (int attempt = 1;; ++attempt) {
    try {
      pqxx::nontransaction txn(conn_);
      txn.exec(absl::StrCat("SET lock_timeout = ",
                            std::max<int64_t>(1, absl::ToInt64Milliseconds(policy.lock_timeout))));
      Tx tx(*this, txn);
      tx.Ddl(sql);
      txn.exec("RESET lock_timeout");
      return absl::OkStatus();
    } catch (const pqxx::sql_error& e) {
      if (!IsLockConflict(e)) return StatusOfDbFailure(e);
      if (attempt >= policy.attempts) {
        return absl::UnavailableError(absl::StrCat(what, ": could not get its locks in ", attempt,
                                                   " attempts; run the phase again later"));
      }
      LogWarning("lock not available; retrying",
                 {{"step", std::string(what)}, {"attempt", absl::StrCat(attempt)}});
      backoff.Wait();
    } catch (const std::exception& e) {
      return StatusOfDbFailure(e);
    }
  }
}

int64_t RelationPages(Tx& tx, const std::string& relation) {
  return tx
      .Params(
          "SELECT pg_relation_size($1::regclass) / current_setting('block_size')::bigint + 1 "
          "AS pages",
          relation)[0]["pages"]
      .as<int64_t>();
}

}  // namespace booking::migrator
