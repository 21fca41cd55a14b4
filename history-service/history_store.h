// The history store: appends events (each event id once, a booking's
// entries unique by sequence) and reads a booking's history in order.
#ifndef HISTORY_SERVICE_HISTORY_STORE_H_
#define HISTORY_SERVICE_HISTORY_STORE_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/pg.h"
#include "common/probe_connection.h"
#include "history/v1/history.pb.h"

namespace booking {

class HistoryStore {
 public:
  explicit HistoryStore(PgPool& pool) : pool_(pool) {}

  // Stores the batch's events in one transaction; already stored event ids
  // count as duplicates; an event that cannot be stored (malformed, refused
  // by the table, its place taken by another event) is rejected alone,
  // listed in the ack with why, never stored. An error means nothing was
  // stored and the batch may be sent again (the store was unreachable).
  absl::StatusOr<history::v1::IngestAck> StoreBatch(const history::v1::IngestRequest& batch);

  // A booking's entries with sequence > after_sequence, oldest first.
  absl::StatusOr<history::v1::GetBookingHistoryResponse> Get(
      const std::string& booking_id, int page_size, int64_t after_sequence,
      absl::Time deadline = absl::InfiniteFuture());

  // OK when the store is reachable and has the history table; on the
  // probe's own connection, never waiting for a pooled one.
  static absl::Status Probe(ProbeConnection& probe);

 private:
  PgPool& pool_;
};

}  // namespace booking

#endif  // HISTORY_SERVICE_HISTORY_STORE_H_
