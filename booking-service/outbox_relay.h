// Streams committed status-change events from the outbox to history-service
// and deletes them once acknowledged.
//
// Several replicas relay at once, each its own share of the bookings: the
// outbox is split into kRelayPartitions partitions by a hash of the booking id,
// and a replica relays a partition only while it holds that partition's
// session advisory lock. So no event is in flight from two replicas, and a
// booking's events leave in sequence order (one replica, id order). Replicas
// register with a shared advisory lock, count each other and take or give up
// partitions (between batches only) until each holds a fair share; when one
// dies its connection ends, its locks go and the others take its partitions.
//
// Unacknowledged events are sent again after a reconnect: history-service
// stores each event id once. Events history-service rejects as malformed (and
// those the relay cannot even encode) are set aside in "BookingOutboxRejected"
// instead of blocking the ones after them.
#ifndef BOOKING_SERVICE_OUTBOX_RELAY_H_
#define BOOKING_SERVICE_OUTBOX_RELAY_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "pqxx/pqxx"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace booking {

// Fixed: every replica must split the outbox the same way.
inline constexpr int kRelayPartitions = 16;

struct RelayOptions {
  std::string database_url;
  std::string database_schema;  // where "Booking" is; empty: found
  std::string history_target;   // HOST:PORT of history-service
  int batch_size = 500;
  // Batches sent before the first is acknowledged: reading and settling in
  // the booking store overlap storing in the history store.
  int pipeline_depth = 2;
  // Longest sleep without a NOTIFY; also how often partitions are rebalanced
  // and the backlog gauges refreshed (by a thread of their own).
  absl::Duration idle_wait = absl::Seconds(1);
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
  // Refreshes the backlog gauges every idle_wait on a connection of its own,
  // so that they stay true while the relay waits on history-service.
  void GaugeLoop();
  // Takes or gives up partitions towards a fair share; `owned` is updated.
  void Rebalance(pqxx::connection& db, std::vector<int>& owned);
  void RefreshGauges(pqxx::connection& db);
  // Waits for a NOTIFY, Stop or `d`, whichever comes first.
  void WaitForEvents(pqxx::connection& db, absl::Duration d);
  bool Stopping();
  // Sleeps for `d` or until Stop; false when stopping.
  bool SleepFor(absl::Duration d);

  const RelayOptions options_;
  prometheus::Counter& sent_;
  prometheus::Counter& acked_;
  prometheus::Counter& rejected_;
  prometheus::Counter& reconnects_;
  prometheus::Gauge& backlog_;
  prometheus::Gauge& oldest_age_;
  prometheus::Gauge& partitions_owned_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool exited_ = false;
  grpc::ClientContext* stream_context_ = nullptr;  // guarded by mu_
  std::thread thread_;
  std::thread gauge_thread_;
};

}  // namespace booking

#endif  // BOOKING_SERVICE_OUTBOX_RELAY_H_
