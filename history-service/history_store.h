// The history store: appends events (each event id once, a booking's
// entries unique by sequence) and reads a booking's history in order.
#ifndef HISTORY_SERVICE_HISTORY_STORE_H_
#define HISTORY_SERVICE_HISTORY_STORE_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/pqxx_fwd.h"
#include "common/probe_connection.h"
#include "history-service/ingest_encoding.h"
#include "history-service/ingest_held.h"
#include "history-service/ingest_store.h"
#include "history-service/list_history.h"
#include "history/v1/history.pb.h"

namespace booking {

class PgPool;

struct HeldEventLog {
  std::string event_id;
  std::string reason;  // "gap", "fork", "conflict"
  std::string detail;
};

// A row the batch stored, for its log line.
struct StoredEntryLog {
  std::string event_id;
  std::string booking_id;
  int64_t sequence = 0;
  std::string traceparent;
};

// A batch's outcome: the acknowledgement, the rows stored and the events
// held back (to log),
// how many of them were held for the first time (by reason: the metric), and
// how many held gaps of earlier batches were stored after this batch filled
// their gap.
struct StoredBatch {
  history::v1::IngestAck ack;
  std::vector<StoredEntryLog> stored;
  std::vector<HeldEventLog> held;
  std::map<std::string, int> newly_held;
  int promoted = 0;
  std::vector<HeldRow> to_hold;       // for "BookingStatusHeldBack"
  std::vector<int> to_hold_ack;       // each one's index in ack.rejected (and in held)
  std::vector<HeldEventLog> refused;  // not kept: a cap reached (detail: why)
  std::optional<HeldCounts> counts;   // the table's at commit, when the batch changed them
};

// Thread safe (every call takes its own connection from a pool).
class HistoryStore {
 public:
  // Ingest (StoreBatch) on `pool`, reads on `read_pool`: however many reads
  // run, they cannot take the connections Ingest needs. `registry`, when
  // given, gets the held-back metrics (ingest_held.h).
  HistoryStore(PgPool& pool, PgPool& read_pool, HeldBackLimits limits = {},
               prometheus::Registry* registry = nullptr);
  // Both on one pool (a tool or benchmark with no concurrent readers).
  explicit HistoryStore(PgPool& pool) : HistoryStore(pool, pool) {}

  // Sets the held-back gauges from the table's counts (at start: they match
  // the table after a restart); an error when the store is unreachable.
  absl::Status RefreshHeldBackGauges(absl::Time deadline = absl::InfiniteFuture());

  // Stores the batch's events in one transaction, each only as its
  // booking's next entry (ingest_plan.h); an event id stored before with the
  // same content counts as a duplicate. An event that cannot be stored is
  // rejected alone, listed in the ack with why and its disposition: malformed
  // (or refused by the table), or held back in "BookingStatusHeldBack" as a
  // gap, fork or conflict. Held gaps that the batch's events make fit are
  // stored after them. An error means nothing was stored and the batch may be
  // sent again (the store was unreachable). An event held back at a new place
  // beyond a cap (HeldBackLimits) is not kept: its disposition stays (the
  // relay sends a gap again later, sets a fork or conflict aside), its reason
  // says so, and it is counted and logged.
  absl::StatusOr<StoredBatch> StoreBatch(const history::v1::IngestRequest& batch);

  // A booking's entries with sequence > after_sequence, oldest first.
  absl::StatusOr<history::v1::GetBookingHistoryResponse> Get(
      const std::string& booking_id, int page_size, int64_t after_sequence,
      absl::Time deadline = absl::InfiniteFuture());

  // ListHistory's page for a checked request (list_history.h).
  absl::StatusOr<history::v1::ListHistoryResponse> List(
      const ListPlan& plan, absl::Time deadline = absl::InfiniteFuture());

  // One booking's rows, hashes, check and checkpoint proof (verify_booking.h).
  absl::StatusOr<history::v1::VerifyHistoryResponse> Verify(
      const std::string& booking_id, absl::Time deadline = absl::InfiniteFuture());

  // The log's newest signed checkpoint, and a consistency proof between two
  // of its sizes (log_reads.h).
  absl::StatusOr<history::v1::LogCheckpoint> LogCheckpoint(absl::Time deadline);
  absl::StatusOr<history::v1::ConsistencyProof> ConsistencyProof(
      const history::v1::GetConsistencyProofRequest& request, absl::Time deadline);
  // Up to `limit` of the log's entries (log_reads.h), in one read-only
  // transaction: the checkpoint, the leaves and the tiles agree.
  absl::StatusOr<history::v1::GetLogEntriesResponse> LogEntries(
      const history::v1::GetLogEntriesRequest& request, int limit, absl::Time deadline);

  // OK when the store is reachable and has the history table; on the
  // probe's own connection, never waiting for a pooled one.
  static absl::Status Probe(ProbeConnection& probe);

 private:
  absl::StatusOr<StoredBatch> StoreAttempt(pqxx::transaction_base& txn,
                                           const history::v1::IngestRequest& batch,
                                           const EncodedEvents& encoded,
                                           std::map<std::string, std::string>& refused);
  absl::StatusOr<StoredBatch> FindRefusedRow(pqxx::transaction_base& txn,
                                             const history::v1::IngestRequest& batch,
                                             const EncodedEvents& encoded,
                                             std::map<std::string, std::string>& refused);
  // The held-back gauges, and the events a cap refused counted and logged.
  void AfterCommit(const StoredBatch& stored);

  PgPool& pool_;       // Ingest's
  PgPool& read_pool_;  // Get, List, Verify
  const HeldBackLimits limits_;
  std::optional<HeldBackMetrics> metrics_;
};

}  // namespace booking

#endif  // HISTORY_SERVICE_HISTORY_STORE_H_
