// The relay's reads and writes of the outbox (outbox/outbox.h): a batch of
// pending events (capped by count and by bytes), and settling a batch
// (acknowledged events deleted, rejected ones set aside in
// "BookingOutboxRejected"). A database error is returned as a status
// (common/pg.h StatusFromException), never thrown.
#ifndef BOOKING_SERVICE_RELAY_OUTBOX_H_
#define BOOKING_SERVICE_RELAY_OUTBOX_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "history/v1/history.pb.h"
#include "outbox/outbox.h"
#include "pqxx/pqxx"

namespace booking {

// Fixed: every replica must split the outbox the same way.
inline constexpr int kRelayPartitions = outbox::kPartitions;

// Serialized bytes of an IngestRequest beyond its events' (the batch id),
// with room to spare.
inline constexpr int kBatchOverheadBytes = 16;

struct Batch {
  history::v1::IngestRequest request;
  std::vector<int64_t> outbox_ids;  // of the events in `request`
  // Events the relay cannot send (not encodable, or larger than a batch may
  // be), set aside without being sent.
  std::vector<int64_t> set_aside_ids;
  google::protobuf::RepeatedPtrField<history::v1::RejectedEvent> set_aside;
  // The read stopped at a limit (count or bytes): more may be pending now.
  bool more = false;
};

struct BatchLimits {
  int max_events = 500;
  // The serialized IngestRequest stays within this (at least one event
  // always goes, unless it alone is larger: then it is set aside).
  int max_bytes = 1 << 20;
};

// Opens a connection to the booking store for the relay, every statement
// bounded by `statement_timeout_ms`.
absl::StatusOr<std::unique_ptr<pqxx::connection>> OpenOutbox(const std::string& url,
                                                             const std::string& schema,
                                                             int statement_timeout_ms);

// Pending events of `partitions`, oldest first, within `limits`, but none of
// `exclude` (sent and awaiting acknowledgement). The acknowledged events
// `delete_first` (none rejected) leave the outbox in the same message and
// implicit transaction: one round trip settles a batch and reads the next.
// On error neither took effect.
absl::StatusOr<Batch> ReadBatch(pqxx::connection& conn, const std::vector<int>& partitions,
                                const std::vector<int64_t>& exclude, const BatchLimits& limits,
                                const std::vector<int64_t>& delete_first = {});

// An event history holds back as a gap waits in the outbox this long at
// most between two sends, and is set aside after this many.
inline constexpr absl::Duration kMaxGapPause = absl::Minutes(5);
inline constexpr int kMaxGapTries = 20;

// Acknowledged events leave the outbox; rejected ones are set aside with the
// reason, in the same transaction, except gaps (history-service's GAP
// disposition): they stay and are sent again after a growing pause. With
// nothing rejected, one DELETE (no transaction of its own).
absl::Status Settle(pqxx::connection& conn, const std::vector<int64_t>& outbox_ids,
                    const google::protobuf::RepeatedPtrField<history::v1::RejectedEvent>& rejected);

// Up to this many events the backlog is counted; beyond, estimated.
inline constexpr int64_t kBacklogCountCap = 10000;

struct Backlog {
  // Counted while there are at most kBacklogCountCap events (reading no
  // more than that many ids through the primary key). Beyond, the id span
  // (max(id) - min(id) + 1, two index lookups), an upper bound: ids of
  // rolled-back writes and of events acknowledged out of order among
  // partitions are holes in it. One event held back for minutes (a gap)
  // does not inflate a small backlog: it is counted. So the gauge's cost
  // follows the work, never the store's size: a count(*) of a large backlog
  // read every row every second (28 ms at 500k) while the relay drained it.
  double events = 0;
  bool estimated = false;  // more than kBacklogCountCap: `events` is the span
  // Of the event with the lowest id (the oldest written, up to commit
  // order; also one held back and waiting to be sent again); 0 when empty.
  double oldest_age_seconds = 0;
};
// The whole outbox (all partitions).
absl::StatusOr<Backlog> ReadBacklog(pqxx::connection& conn);

// Listens for the NOTIFY sent with every event written to the outbox.
//
// Not thread safe: owned by one thread (the relay thread).
class OutboxListener final : public pqxx::notification_receiver {
 public:
  explicit OutboxListener(pqxx::connection& conn)
      : pqxx::notification_receiver(conn, outbox::kChannel) {}
  void operator()(const std::string&, int) override { notified_ = true; }
  // Whether a NOTIFY came (handled by pqxx: get_notifs, await_notification)
  // since the last call.
  bool TakeNotified() { return std::exchange(notified_, false); }

 private:
  bool notified_ = false;
};

}  // namespace booking

#endif  // BOOKING_SERVICE_RELAY_OUTBOX_H_
