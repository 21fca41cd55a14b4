// A database connection of its own for the health probe: the probe never
// waits behind calls for a pooled connection, so a busy pool does not read
// as NOT_SERVING, and a dead store is noticed even while every pooled
// connection is in use.
#ifndef BOOKING_COMMON_PROBE_CONNECTION_H_
#define BOOKING_COMMON_PROBE_CONNECTION_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/pqxx_fwd.h"

namespace booking {

// Not thread safe: owned by one thread (the probe thread).
class ProbeConnection {
 public:
  // `setup` runs on every (re)connect, e.g. to set the search_path.
  ProbeConnection(std::string url, ConnectionSetup setup);
  ~ProbeConnection();

  // Runs `check` in a read-only transaction, connecting first when needed.
  // A connection found broken (the store restarted) is replaced and the
  // check tried once more, so one stale connection does not flip health.
  absl::Status Run(const std::function<absl::Status(pqxx::transaction_base&)>& check);

 private:
  absl::Status RunOnce(const std::function<absl::Status(pqxx::transaction_base&)>& check,
                       bool* lost);

  const std::string url_;
  const ConnectionSetup setup_;
  std::unique_ptr<pqxx::connection> conn_;  // only the probe thread uses it
};

}  // namespace booking

#endif  // BOOKING_COMMON_PROBE_CONNECTION_H_
