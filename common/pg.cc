#include "common/pg.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

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
    return absl::UnavailableError(
        absl::StrCat("connection lost during commit; outcome unknown: ", e.what()));
  }
  return absl::InternalError(e.what());
}

PgPool::PgPool(Options options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<pqxx::connection>> PgPool::Take() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    const bool got = released_.wait_for(lock, absl::ToChronoMilliseconds(options_.acquire_timeout),
                                        [&] { return !idle_.empty() || open_ < options_.size; });
    if (!got) return absl::UnavailableError("no database connection free in time");
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
    ++open_;  // reserve a slot, connect outside the lock
  }
  auto conn = Connect(options_.url, options_.setup);
  if (!conn.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    --open_;
    released_.notify_one();
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

absl::Status PgPool::Run(const std::function<absl::Status(pqxx::connection&)>& fn) {
  auto conn = Take();
  if (!conn.ok()) return conn.status();
  absl::Status status;
  try {
    status = fn(**conn);
  } catch (const std::exception& e) {
    status = StatusFromException(e);
    // A connection that failed mid-statement may be unusable; start afresh.
    if (absl::IsUnavailable(status)) conn->reset();
  }
  Give(std::move(*conn));
  return status;
}

absl::Status PgPool::RunInTransaction(const std::function<absl::Status(pqxx::work&)>& fn) {
  constexpr int kAttempts = 3;
  absl::Status status;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    bool conflict = false;
    status = Run([&](pqxx::connection& conn) {
      try {
        pqxx::work txn(conn);
        absl::Status s = fn(txn);
        if (s.ok()) txn.commit();  // otherwise the destructor rolls back
        return s;
      } catch (const pqxx::serialization_failure&) {
        conflict = true;
        throw;
      } catch (const pqxx::deadlock_detected&) {
        conflict = true;
        throw;
      }
    });
    if (!conflict) break;
  }
  return status;
}

}  // namespace booking
