// Streams committed status-change events from the outbox to history-service
// and deletes them once acknowledged. One replica relays at a time (it holds
// a session advisory lock), so events leave in commit order; the others stand
// by and take over when its connection ends. Unacknowledged events are sent
// again after a reconnect: history-service stores each event id once.
#ifndef BOOKING_SERVICE_OUTBOX_RELAY_H_
#define BOOKING_SERVICE_OUTBOX_RELAY_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace booking {

struct RelayOptions {
  std::string database_url;
  std::string history_target;  // HOST:PORT of history-service
  int batch_size = 500;
  absl::Duration idle_wait = absl::Seconds(1);  // longest sleep without a NOTIFY
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
};

class OutboxRelay {
 public:
  OutboxRelay(RelayOptions options, prometheus::Registry& metrics);
  ~OutboxRelay();
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  void Start();
  // Lets the batch in flight be acknowledged (for at most `grace`), then
  // stops. Whatever is not acknowledged stays in the outbox.
  void Stop(absl::Duration grace = absl::Seconds(5));

 private:
  void Run();
  // One connection to each side; returns why it ended.
  absl::Status Session();
  bool Stopping();
  // Sleeps for `d` or until Stop; false when stopping.
  bool SleepFor(absl::Duration d);

  const RelayOptions options_;
  prometheus::Counter& sent_;
  prometheus::Counter& acked_;
  prometheus::Counter& rejected_;
  prometheus::Counter& reconnects_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool exited_ = false;
  grpc::ClientContext* stream_context_ = nullptr;  // guarded by mu_
  std::thread thread_;
};

}  // namespace booking

#endif  // BOOKING_SERVICE_OUTBOX_RELAY_H_
