// A steady load of status changes for fault tests and benchmarks: client
// threads, each walking its own bookings through a legal cycle
// (CONFIRMED -> PICKUP_ASSIGNED -> CONFIRMED -> ...), every change with a
// request id, and every acknowledged change recorded.
//
// With `retry_until_ok`, a failed call (the store restarting, a replica
// killed) is sent again with the same request id until it succeeds: a call
// whose outcome was unknown is then answered from its idempotency record, so
// every change the store committed ends up acknowledged exactly once.
#ifndef TESTS_SUPPORT_STATUS_LOAD_H_
#define TESTS_SUPPORT_STATUS_LOAD_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "booking/v1/booking.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace booking::testing {

struct LoadOptions {
  // A gRPC target; "ipv4:a,b" spreads calls over replicas (round_robin).
  std::string target;
  std::string token;
  std::string booking_prefix = "load";  // booking ids "<prefix>-<thread>-<n>"
  int threads = 4;
  int bookings_per_thread = 2;
  bool retry_until_ok = true;  // otherwise a thread stops at its first failure
  absl::Duration call_timeout = absl::Seconds(2);
  // How long one change may be retried before it is given up (unresolved).
  absl::Duration resolve_timeout = absl::Seconds(90);
  absl::Duration pause = absl::ZeroDuration();  // between a thread's changes
  // A thread starts a change at most every `interval`, on a schedule (a
  // paced load: behind it, the next starts at once); 0: as fast as calls
  // return.
  absl::Duration interval = absl::ZeroDuration();
  // Walk each booking through its whole lifecycle (CONFIRMED .. IN_SERVICE ..
  // RETURNED .. DELIVERED), then start a new one, instead of the short cycle.
  bool lifecycle = false;
};

struct AckedChange {
  std::string booking_id;
  int64_t version = 0;
  std::string status;  // the status the change led to
};

class StatusLoad {
 public:
  // Creates the bookings (retried as changes are), then starts the threads.
  static absl::StatusOr<std::unique_ptr<StatusLoad>> Start(LoadOptions options);
  ~StatusLoad();
  StatusLoad(const StatusLoad&) = delete;
  StatusLoad& operator=(const StatusLoad&) = delete;

  // Stops the threads after the change each is resolving.
  void Stop();

  // Every acknowledged creation (version 1) and change.
  std::vector<AckedChange> acked() const;
  int64_t acked_count() const { return acked_count_.load(); }
  // Waits up to `timeout` for `n` more acknowledged changes than now
  // (DEADLINE_EXCEEDED: the clients stalled).
  absl::Status WaitForMoreAcked(int64_t n, absl::Duration timeout) const;
  // Failed calls by status code name (retries included).
  std::map<std::string, int64_t> failures() const;
  int64_t failed_calls() const;
  // Changes given up after resolve_timeout (their outcome is unknown).
  int64_t unresolved() const { return unresolved_.load(); }
  // Latency of every successful call.
  std::vector<absl::Duration> latencies() const;

 private:
  explicit StatusLoad(LoadOptions options) : options_(std::move(options)) {}
  void Worker(int thread);
  // Creates booking `id`; true when acknowledged.
  bool Create(v1::BookingService::Stub& stub, const std::string& id, int64_t* version,
              v1::BookingStatus* status);
  v1::BookingStatus Next(v1::BookingStatus status) const;
  // Sends `call` until OK (or once without retries); true when acknowledged.
  bool Resolve(const std::function<grpc::Status(grpc::ClientContext&)>& call);
  std::shared_ptr<grpc::Channel> NewChannel() const;

  const LoadOptions options_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> acked_count_{0};
  std::atomic<int64_t> unresolved_{0};
  mutable std::mutex mu_;
  std::vector<AckedChange> acked_;           // guarded by mu_
  std::map<std::string, int64_t> failures_;  // guarded by mu_
  std::vector<absl::Duration> latencies_;    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_STATUS_LOAD_H_
