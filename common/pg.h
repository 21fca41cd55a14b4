// PostgreSQL connection handling shared by the services and the migrator:
// a small pool of libpqxx connections that replaces broken ones, and the
// translation of libpqxx exceptions into absl::Status.
#ifndef BOOKING_COMMON_PG_H_
#define BOOKING_COMMON_PG_H_

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pqxx/pqxx"

namespace booking {

// Adds connect_timeout (seconds) and application_name to a libpq URL or
// key=value string unless it sets them already.
std::string WithConnectionDefaults(const std::string& url, absl::string_view application_name,
                                   int connect_timeout_seconds = 5);

// Runs after a connection opens (e.g. SET statement_timeout).
using ConnectionSetup = std::function<void(pqxx::connection&)>;

// Opens one connection; UNAVAILABLE when the server cannot be reached.
absl::StatusOr<std::unique_ptr<pqxx::connection>> Connect(const std::string& url,
                                                          const ConnectionSetup& setup = {});

// libpqxx exception -> status: broken connections are UNAVAILABLE,
// serialization failures and deadlocks ABORTED, everything else INTERNAL with
// the SQLSTATE.
absl::Status StatusFromException(const std::exception& e);

class PgPool {
 public:
  struct Options {
    std::string url;
    int size = 8;
    absl::Duration acquire_timeout = absl::Seconds(5);
    ConnectionSetup setup;
  };
  explicit PgPool(Options options);
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // Runs fn on a pooled connection. A connection that broke is dropped and
  // replaced on the next call. Exceptions from fn become a status.
  absl::Status Run(const std::function<absl::Status(pqxx::connection&)>& fn);

  // Runs fn in a transaction, retried (a few times) on serialization failure
  // or deadlock. fn's error status rolls the transaction back.
  absl::Status RunInTransaction(const std::function<absl::Status(pqxx::work&)>& fn);

 private:
  absl::StatusOr<std::unique_ptr<pqxx::connection>> Take();
  void Give(std::unique_ptr<pqxx::connection> conn);

  const Options options_;
  std::mutex mu_;
  std::condition_variable released_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  int open_ = 0;  // connections handed out or idle
};

}  // namespace booking

#endif  // BOOKING_COMMON_PG_H_
