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
// dies its connection ends, its locks go and the others take its partitions
// (relay_partitions.h).
//
// Unacknowledged events are sent again after a reconnect: history-service
// stores each event id once. Events history-service rejects as malformed (and
// those the relay cannot send: not encodable, or larger than a batch may be)
// are set aside in "BookingOutboxRejected" instead of blocking the ones after
// them (relay_outbox.h).
//
// A replica relays over RelayOptions::streams Ingest streams at once (on its
// one channel, relay_stream.h), stored concurrently by history-service. Each
// stream is a lane: a thread with its own booking-store connection that takes
// part in the partition sharing above as one more relay. So a partition, and
// with it every booking hashed to it, is relayed by one lane of one replica at
// a time, and changes hands only when that lane has nothing in flight and has
// deleted what was acknowledged: each booking's events still leave in
// sequence order over one stream.
#ifndef BOOKING_SERVICE_OUTBOX_RELAY_H_
#define BOOKING_SERVICE_OUTBOX_RELAY_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "booking-service/relay_interrupts.h"
#include "booking-service/relay_outbox.h"
#include "common/backoff.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "pqxx/pqxx"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace booking {

class IngestPipeline;
class PartitionOwnership;

inline constexpr int kMessageHeadroomBytes = 64 << 10;
inline constexpr int kMaxRelayStreams = 64;
// Measured (bench/README.md, "Delivery under steady load").
inline constexpr int kDefaultIngestStreams = 2;

struct RelayOptions {
  std::string database_url;
  std::string database_schema;  // where "Booking" is; empty: found
  std::string history_target;   // HOST:PORT of history-service
  // How the relay connects and who it is (common/tls.h); null: plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  int batch_size = 500;
  // A batch's serialized IngestRequest stays within this; an event larger
  // on its own is set aside.
  int max_batch_bytes = 1 << 20;
  // The channel's send and receive limit; at least max_batch_bytes plus
  // kMessageHeadroomBytes (raised to that when less).
  int max_message_bytes = 4 << 20;
  // Batches sent before the first is acknowledged: reading and settling in
  // the booking store overlap storing in the history store.
  int pipeline_depth = 2;
  // Ingest streams (lanes) of this replica, each relaying its own partitions
  // with its own pipeline_depth batches in flight; 1..kMaxRelayStreams.
  // More than kRelayPartitions leaves lanes idle. A lane whose stream
  // history-service refuses (its limits::kMaxIngestStreams over every
  // replica) keeps its partitions and retries: keep replicas x streams
  // within that.
  int streams = kDefaultIngestStreams;
  // Longest sleep without a NOTIFY; also how often partitions are rebalanced
  // and the backlog gauges refreshed (by a thread of their own).
  absl::Duration idle_wait = absl::Seconds(1);
  // Pauses between failed sessions and between failed streams.
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
};

// Thread-compatible: Start and Stop one thread at a time (callers serialise); OwnedPartitions is
// thread safe.
class OutboxRelay {
 public:
  OutboxRelay(RelayOptions options, prometheus::Registry& metrics);
  ~OutboxRelay();
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  void Start();
  // Lets the batches in flight be acknowledged (for at most `grace`), then
  // cancels the stream and any database statement in progress and returns
  // soon after (well within a second; opening a database connection is the
  // exception, bounded by its connect_timeout). Whatever is not
  // acknowledged stays in the outbox.
  void Stop(absl::Duration grace = absl::Seconds(5));

  // The partitions this relay holds now (sorted), as its
  // relay_partitions_owned gauge counts them.
  std::vector<int> OwnedPartitions() const;

 private:
  struct Session;
  // One lane: sessions one after the other until Stop.
  void Run(int lane);
  // One connection to each side; returns why it ended.
  absl::Status RunSession(int lane, Backoff& stream_backoff);
  absl::Status Pump(Session& s);
  // Reads the next batch (deleting the acknowledged events first, in the
  // same message) and sends it; false when there was nothing to send. A
  // booking-store error ends the session (returned).
  absl::StatusOr<bool> SendNext(Session& s);
  // Whether a read may find anything (Session::read_due), NOTIFYs that
  // arrived taken into account.
  bool ReadDue(Session& s);
  // Deletes the acknowledged events no read has taken along.
  absl::Status FlushAcked(Session& s);
  // Settles the oldest batch's acknowledgement, or handles the stream's end.
  // A booking-store error ends the session (returned).
  absl::Status SettleNextAck(Session& s);
  // A stream that ended after acknowledging batches and with UNAVAILABLE
  // (GOAWAY) is reopened at once; otherwise after a pause of the backoff.
  void AfterStreamEnd(Session& s, const absl::Status& why);
  void Rebalance(Session& s);
  // Refreshes the backlog gauges every idle_wait on a connection of its own,
  // so that they stay true while the relay waits on history-service.
  void GaugeLoop();
  // Waits for a NOTIFY, Stop or `d`, whichever comes first.
  void WaitForEvents(pqxx::connection& db, absl::Duration d);
  void SetOwned(int lane, std::vector<int> owned);
  void ThreadExited();
  bool WaitExited(absl::Duration d);

  const RelayOptions options_;
  const std::shared_ptr<grpc::Channel> channel_;
  prometheus::Counter& sent_;
  prometheus::Counter& acked_;
  prometheus::Counter& rejected_;
  prometheus::Counter& reconnects_;
  prometheus::Gauge& backlog_;
  prometheus::Gauge& oldest_age_;
  prometheus::Gauge& partitions_owned_;

  absl::Notification stop_;
  RelayInterrupts interrupts_;
  mutable std::mutex mu_;
  std::condition_variable exited_;
  int running_ ABSL_GUARDED_BY(mu_) = 0;                      // threads
  std::vector<std::vector<int>> owned_ ABSL_GUARDED_BY(mu_);  // by lane
  std::vector<std::thread> lanes_;
  std::thread gauge_thread_;
};

}  // namespace booking

#endif  // BOOKING_SERVICE_OUTBOX_RELAY_H_
