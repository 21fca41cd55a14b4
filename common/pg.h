// PostgreSQL connection handling shared by the services and the migrator:
// a small pool of libpqxx connections that replaces broken ones, and the
// translation of libpqxx exceptions into absl::Status.
//
// A store restart breaks every pooled connection at once. The pool notices on
// the first failing statement, drops all idle connections (they share the
// dead server) and retries a transaction that cannot have committed once on a
// fresh connection, so callers see at most one UNAVAILABLE per outage, and
// none after the server is back.
#ifndef BOOKING_COMMON_PG_H_
#define BOOKING_COMMON_PG_H_

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/pqxx_fwd.h"
#include "pqxx/pqxx"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace booking {

// Adds connect_timeout (seconds) and application_name to a libpq URL or
// key=value string unless it sets them already.
std::string WithConnectionDefaults(const std::string& url, absl::string_view application_name,
                                   int connect_timeout_seconds = 5);

// Opens one connection; UNAVAILABLE when the server cannot be reached.
absl::StatusOr<std::unique_ptr<pqxx::connection>> Connect(const std::string& url,
                                                          const ConnectionSetup& setup = {});

// libpqxx exception -> status: broken connections are UNAVAILABLE,
// serialization failures and deadlocks ABORTED, everything else INTERNAL with
// the SQLSTATE.
absl::Status StatusFromException(const std::exception& e);

// True when `e` means the connection is gone (the server closed it, is
// shutting down or restarting): the statement did not run to completion and
// the connection cannot be used again.
bool IsConnectionLost(const std::exception& e);

// Bounds every following statement of `txn` by the time left until
// `deadline` (SET LOCAL statement_timeout); DEADLINE_EXCEEDED when none is
// left. Nothing to do for an infinite deadline.
absl::Status BoundByDeadline(pqxx::transaction_base& txn, absl::Time deadline);

// The statement BoundByDeadline sends ("SET LOCAL statement_timeout = N"),
// for a caller that sends it in one message with its query; "" for an
// infinite deadline; DEADLINE_EXCEEDED when none is left.
absl::StatusOr<std::string> DeadlineBoundStatement(absl::Time deadline);

// Thread safe.
class PgPool {
 public:
  struct Options {
    std::string url;
    int size = 8;
    absl::Duration acquire_timeout = absl::Seconds(5);
    ConnectionSetup setup;
    std::string name = "db";  // in logs and the metrics' "pool" label
    // When set: db_connections_opened_total, db_connections_lost_total and
    // the histograms db_pool_wait_seconds and db_pool_use_seconds.
    prometheus::Registry* metrics = nullptr;
  };
  explicit PgPool(Options options);
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // Runs fn on a pooled connection. A connection that broke is dropped and
  // replaced on the next call. Exceptions from fn become a status. Waiting
  // for a free connection ends at `deadline` (DEADLINE_EXCEEDED) or after
  // acquire_timeout (RESOURCE_EXHAUSTED: every connection busy).
  absl::Status Run(const std::function<absl::Status(pqxx::connection&)>& fn,
                   absl::Time deadline = absl::InfiniteFuture());

  // Run for a callback that only reads: once more on a fresh connection when
  // the connection was found lost (a read is safe to repeat), so a store
  // restart costs a reader no error once the server is back.
  absl::Status RunRead(const std::function<absl::Status(pqxx::connection&)>& fn,
                       absl::Time deadline = absl::InfiniteFuture());

  // RunRead for a callback producing a value: only the last attempt's value
  // is returned (a read repeated on a fresh connection starts from nothing).
  template <typename T>
  absl::StatusOr<T> RunRead(const std::function<absl::StatusOr<T>(pqxx::connection&)>& fn,
                            absl::Time deadline = absl::InfiniteFuture()) {
    std::optional<T> read;
    absl::Status status = RunRead(
        [&](pqxx::connection& conn) -> absl::Status {
          read.reset();
          absl::StatusOr<T> value = fn(conn);
          if (!value.ok()) return value.status();
          read = *std::move(value);
          return absl::OkStatus();
        },
        deadline);
    if (!status.ok()) return status;
    return *std::move(read);
  }

  // Runs fn in a transaction, retried (a few times, after a short jittered
  // pause) on serialization failure or deadlock, and once on a fresh
  // connection when the connection was lost before commit (nothing was
  // written). fn's error status rolls the transaction back. With a finite
  // `deadline`, every statement of the transaction is bounded by the time
  // left (SET LOCAL statement_timeout): a caller's deadline is honoured by the
  // store too, and no retry starts once it has passed.
  //
  // fn may run more than once, each time on a fresh transaction: it must
  // start from nothing each time. A callback that produces output (rows read,
  // a response) uses the value-returning form below, which keeps only the
  // value of the attempt that committed; this form is for callbacks that
  // leave nothing behind but the transaction's effects (and a status).
  absl::Status RunInTransaction(const std::function<absl::Status(pqxx::work&)>& fn,
                                absl::Time deadline = absl::InfiniteFuture());

  // The retries of RunInTransaction for a callback that ends its own
  // transaction (statements sent as text with BEGIN and COMMIT, to save round
  // trips): it must leave the connection outside a transaction when it
  // fails, and throw pqxx::in_doubt_error when the connection was lost while
  // a COMMIT was on the wire. Setting *reprepare asks for one more attempt
  // after the callback forgot the prepared statements the server refused.
  absl::Status RunRetried(const std::function<absl::Status(pqxx::connection&, bool* reprepare)>& fn,
                          absl::Time deadline);

  // The same for a callback producing a value: every attempt builds its own
  // T, and only the committed attempt's is returned, so an attempt that was
  // rolled back and run again cannot leave duplicated or stale output.
  //   auto page = pool.RunInTransaction<Page>(
  //       [&](pqxx::work& txn) -> absl::StatusOr<Page> { Page p; ...; return p; });
  template <typename T>
  absl::StatusOr<T> RunInTransaction(const std::function<absl::StatusOr<T>(pqxx::work&)>& fn,
                                     absl::Time deadline = absl::InfiniteFuture()) {
    std::optional<T> committed;
    absl::Status status = RunInTransaction(
        [&](pqxx::work& txn) -> absl::Status {
          committed.reset();  // nothing of an earlier attempt survives
          absl::StatusOr<T> value = fn(txn);
          if (!value.ok()) return value.status();
          committed = *std::move(value);
          return absl::OkStatus();
        },
        deadline);
    if (!status.ok()) return status;
    return *std::move(committed);
  }

 private:
  absl::StatusOr<std::unique_ptr<pqxx::connection>> Take(absl::Time deadline);
  void Give(std::unique_ptr<pqxx::connection> conn);
  // Drops every idle connection: they were opened to the server that just
  // went away.
  void DropIdle(const std::string& why);
  absl::Status RunOnce(const std::function<absl::Status(pqxx::connection&)>& fn,
                       absl::Time deadline, bool* lost);

  const Options options_;
  prometheus::Counter* opened_ = nullptr;
  prometheus::Counter* lost_ = nullptr;
  prometheus::Histogram* wait_ = nullptr;
  prometheus::Histogram* use_ = nullptr;
  std::mutex mu_;
  std::condition_variable released_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;                     // connections handed out or idle
  bool lost_since_connect_ ABSL_GUARDED_BY(mu_) = false;  // log the reconnect after a loss
};

}  // namespace booking

#endif  // BOOKING_COMMON_PG_H_
