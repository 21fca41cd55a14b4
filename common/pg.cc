#include "common/pg.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/backoff.h"
#include "common/log.h"
#include "common/rpc_error.h"
#include "pqxx/pqxx"

namespace booking {

std::string WithConnectionDefaults(const std::string& url, absl::string_view application_name,
                                   int connect_timeout_seconds) {
  const bool is_uri =
      absl::StartsWith(url, "postgres://") || absl::StartsWith(url, "postgresql://");
  std::string out = url;
  auto add = [&](absl::string_view key, absl::string_view value) {
    if (absl::StrContains(url, absl::StrCat(key, "="))) return;
    if (is_uri) {
      absl::StrAppend(&out, absl::StrContains(out, "?") ? "&" : "?", key, "=", value);
    } else {
      absl::StrAppend(&out, out.empty() ? "" : " ", key, "=", value);
    }
  };
  add("connect_timeout", absl::StrCat(connect_timeout_seconds));
  add("application_name", application_name);
  return out;
}

absl::StatusOr<std::unique_ptr<pqxx::connection>> Connect(const std::string& url,
                                                          const ConnectionSetup& setup) {
  try {
    auto conn = std::make_unique<pqxx::connection>(url);
    if (setup) setup(*conn);
    return conn;
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

absl::Status StatusFromException(const std::exception& e) {
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return absl::UnavailableError(absl::StrCat("database unreachable: ", e.what()));
  }
  if (dynamic_cast<const pqxx::serialization_failure*>(&e) != nullptr ||
      dynamic_cast<const pqxx::deadlock_detected*>(&e) != nullptr) {
    return absl::AbortedError(absl::StrCat("transaction conflict: ", e.what()));
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    // 57P01..57P03: the server is shutting down or starting up; 08xxx: connection.
    const std::string& state = sql->sqlstate();
    if (absl::StartsWith(state, "57P") || absl::StartsWith(state, "08")) {
      return absl::UnavailableError(absl::StrCat("database unavailable: ", e.what()));
    }
    if (state == "57014") {
      return absl::DeadlineExceededError(absl::StrCat("statement timed out: ", e.what()));
    }
    return absl::InternalError(absl::StrCat("database error (SQLSTATE ", state, "): ", e.what()));
  }
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    // The caller sees this one as it is (it has details): unlike an outage,
    // the write may have been made, and the request id tells which.
    return RpcError(absl::StatusCode::kUnavailable,
                    "the connection to the store was lost while the write was committing: it "
                    "may or may not have been made; repeat the call with the same request_id to "
                    "learn which (without one, read the current state before writing again)")
        .Info("OUTCOME_UNKNOWN", "");  // the domain is the method's (EnsureErrorInfo)
  }
  return absl::InternalError(e.what());
}

bool IsConnectionLost(const std::exception& e) {
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) return true;
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    // 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now;
    // 08xxx connection exceptions.
    const std::string& state = sql->sqlstate();
    return absl::StartsWith(state, "57P") || absl::StartsWith(state, "08");
  }
  return false;
}

absl::StatusOr<std::string> DeadlineBoundStatement(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return std::string();
  const int64_t left_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
  if (left_ms <= 0)
    return absl::DeadlineExceededError("deadline passed before the store was asked");
  // statement_timeout is an int of milliseconds; further is as good as never.
  return absl::StrCat("SET LOCAL statement_timeout = ",
                      std::min<int64_t>(left_ms, std::numeric_limits<int32_t>::max()));
}

absl::Status BoundByDeadline(pqxx::transaction_base& txn, absl::Time deadline) {
  absl::StatusOr<std::string> bound = DeadlineBoundStatement(deadline);
  if (!bound.ok()) return bound.status();
  if (!bound->empty()) txn.exec(*bound);
  return absl::OkStatus();
}

PgPool::PgPool(Options options) : options_(std::move(options)) {
  if (options_.metrics != nullptr) {
    opened_ = &prometheus::BuildCounter()
                   .Name("db_connections_opened_total")
                   .Help("database connections opened, reconnects included")
                   .Register(*options_.metrics)
                   .Add({{"pool", options_.name}});
    lost_ = &prometheus::BuildCounter()
                 .Name("db_connections_lost_total")
                 .Help("database connections found broken (server restarted or unreachable)")
                 .Register(*options_.metrics)
                 .Add({{"pool", options_.name}});
    // Database performance as calls see it: the wait for a connection (the
    // pool too small or the store slow) and the time each call's work held
    // it (its statements, or transaction up to the commit).
    const prometheus::Histogram::BucketBoundaries buckets = {
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    wait_ = &prometheus::BuildHistogram()
                 .Name("db_pool_wait_seconds")
                 .Help("time waited for a pooled database connection")
                 .Register(*options_.metrics)
                 .Add({{"pool", options_.name}}, buckets);
    use_ = &prometheus::BuildHistogram()
                .Name("db_pool_use_seconds")
                .Help("time a call held a pooled connection: its statements or transaction")
                .Register(*options_.metrics)
                .Add({{"pool", options_.name}}, buckets);
  }
}

absl::StatusOr<std::unique_ptr<pqxx::connection>> PgPool::Take(absl::Time deadline) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    const absl::Time until = std::min(deadline, absl::Now() + options_.acquire_timeout);
    const bool got = released_.wait_for(lock, absl::ToChronoMilliseconds(until - absl::Now()),
                                        [&] { return !idle_.empty() || open_ < options_.size; });
    if (!got) {
      if (absl::Now() >= deadline) {
        return absl::DeadlineExceededError("deadline passed waiting for a database connection");
      }
      // Every connection busy: the service is at capacity, not broken.
      return absl::ResourceExhaustedError("no database connection free in time");
    }
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
    ++open_;  // reserve a slot, connect outside the lock
  }
  auto conn = Connect(options_.url, options_.setup);
  std::lock_guard<std::mutex> lock(mu_);
  if (!conn.ok()) {
    --open_;
    released_.notify_one();
    return conn;
  }
  if (opened_ != nullptr) opened_->Increment();
  if (lost_since_connect_) {
    lost_since_connect_ = false;
    LogInfo("database reconnected", {{"pool", options_.name}});
  }
  return conn;
}

void PgPool::Give(std::unique_ptr<pqxx::connection> conn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (conn != nullptr && conn->is_open()) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  released_.notify_one();
}

void PgPool::DropIdle(const std::string& why) {
  std::vector<std::unique_ptr<pqxx::connection>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dropped.swap(idle_);
    open_ -= static_cast<int>(dropped.size());
    if (!lost_since_connect_) {
      LogWarning("database connection lost; idle connections dropped, reconnecting on demand",
                 {{"pool", options_.name}, {"error", why}});
    }
    lost_since_connect_ = true;
    if (lost_ != nullptr) lost_->Increment();
    released_.notify_all();
  }
  // Closed outside the lock: closing a dead socket need not hold up others.
}

absl::Status PgPool::RunOnce(const std::function<absl::Status(pqxx::connection&)>& fn,
                             absl::Time deadline, bool* lost) {
  *lost = false;
  const absl::Time asked = absl::Now();
  auto conn = Take(deadline);
  const absl::Time taken = absl::Now();
  if (wait_ != nullptr) wait_->Observe(absl::ToDoubleSeconds(taken - asked));
  if (!conn.ok()) return conn.status();
  absl::Status status;
  try {
    status = fn(**conn);
  } catch (const std::exception& e) {
    status = StatusFromException(e);
    // Lost at commit, the outcome is unknown: the caller must not retry.
    const bool in_doubt = dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr;
    const bool gone = in_doubt || IsConnectionLost(e) || !(*conn)->is_open();
    *lost = gone && !in_doubt;
    if (in_doubt) {
      LogWarning("connection lost during commit; outcome unknown",
                 {{"pool", options_.name}, {"error", e.what()}});
    }
    // A connection that failed mid-statement may be unusable; start afresh.
    if (gone || absl::IsUnavailable(status)) conn->reset();
    if (gone) DropIdle(e.what());
  }
  if (use_ != nullptr) use_->Observe(absl::ToDoubleSeconds(absl::Now() - taken));
  Give(std::move(*conn));
  return status;
}

absl::Status PgPool::Run(const std::function<absl::Status(pqxx::connection&)>& fn,
                         absl::Time deadline) {
  bool lost = false;
  return RunOnce(fn, deadline, &lost);
}

absl::Status PgPool::RunRead(const std::function<absl::Status(pqxx::connection&)>& fn,
                             absl::Time deadline) {
  bool lost = false;
  absl::Status status = RunOnce(fn, deadline, &lost);
  if (lost && absl::Now() < deadline) status = RunOnce(fn, deadline, &lost);
  return status;
}

absl::Status PgPool::RunInTransaction(const std::function<absl::Status(pqxx::work&)>& fn,
                                      absl::Time deadline) {
  return RunRetried(
      [&](pqxx::connection& conn, bool*) {
        pqxx::work txn(conn);
        if (absl::Status s = BoundByDeadline(txn, deadline); !s.ok()) return s;
        absl::Status s = fn(txn);
        if (s.ok()) txn.commit();  // otherwise the destructor rolls back
        return s;
      },
      deadline);
}

absl::Status PgPool::RunRetried(
    const std::function<absl::Status(pqxx::connection&, bool* reprepare)>& fn,
    absl::Time deadline) {
  constexpr int kAttempts = 3;
  // Conflicting transactions retried at once would likely conflict again.
  Backoff backoff(absl::Milliseconds(5), absl::Milliseconds(100));
  absl::Status status;
  bool retried_lost = false;
  bool reprepared = false;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    bool conflict = false;
    bool lost = false;
    bool reprepare = false;
    status = RunOnce(
        [&](pqxx::connection& conn) {
          try {
            return fn(conn, &reprepare);
          } catch (const pqxx::serialization_failure&) {
            conflict = true;
            throw;
          } catch (const pqxx::deadlock_detected&) {
            conflict = true;
            throw;
          }
        },
        deadline, &lost);
    if (status.ok() || absl::Now() >= deadline) break;
    // Lost before commit (in_doubt_error is not "lost"): nothing was written,
    // so one more try on a fresh connection is safe.
    if (lost && !retried_lost) {
      retried_lost = true;
    } else if (reprepare && !reprepared) {
      reprepared = true;
    } else if (!conflict || attempt + 1 >= kAttempts || !backoff.Wait(deadline)) {
      break;
    }
  }
  return status;
}

}  // namespace booking
