// The watch feed's sequencer: gives history rows their feed positions after
// their ingest transactions commit.
//
// An ingest transaction queues the rows it inserts in
// "BookingStatusHistoryFeedQueue" (schema step 0011), in insertion order,
// and NOTIFYs kFeedQueueChannel. The sequencer moves queued rows to
// "BookingStatusHistoryFeed" in queue order, a batch per implicit
// transaction (one message), under the feed's transaction-level advisory
// lock: one sequencer of all replicas at a time, so positions become
// visible in ascending order and "every entry above P" never misses one
// (watch_feed.h). Then it NOTIFYs kFeedChannel (watch_feed.h) for the
// watchers. Ingest
// transactions never wait for one another on the feed (before step 0011
// each took its positions under that lock, held through its COMMIT).
//
// A booking's later row is queued by a transaction that began after the one
// storing its earlier row committed (the booking's ingest lock), so it has
// the larger queue id: positions keep every booking's order. Rows queued by
// a transaction that commits after a later-queued one are sequenced after
// it; they belong to other bookings.
//
// A notification only wakes the sequencer; it also looks every `recheck`,
// so a lost one (connection lost, another replica's sequencer stopped)
// delays positions, never loses them: queued rows stay until sequenced.
//
// At most every `integrate_every` it integrates the rows the feed gained
// into the log's Merkle tree (history-service/log_tree.h), in feed order,
// folding in rows from before the feed first. A tree the store altered is never extended:
// the sequencer logs it at error, sets history_log_tree_refused, and goes on
// giving feed positions (watchers are not held hostage by the tree).
#ifndef HISTORY_SERVICE_FEED_SEQUENCER_H_
#define HISTORY_SERVICE_FEED_SEQUENCER_H_

#include <cstdint>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/batch_sizer.h"
#include "common/pqxx_fwd.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace booking {

// Moves the history rows of up to `limit` queue rows (an ingest batch's
// rows each, or one row queued alone) to the feed, in queue order, in one
// implicit transaction on `conn` (no transaction may be open on it), and
// NOTIFYs kFeedChannel when it moved any: how many entries it gave
// positions, from how many queue rows (fewer than `limit`: the queue is empty).
struct Sequenced {
  int64_t entries = 0;
  int64_t queue_rows = 0;
};
absl::StatusOr<Sequenced> SequenceQueued(pqxx::connection& conn, int limit);

// Thread-compatible: Start and Stop one thread at a time (callers
// serialise); Run is its own thread's.
class FeedSequencer {
 public:
  struct Options {
    std::string url;       // libpq URL of its own connection (it LISTENs)
    int batch = 5000;      // most rows an integration batch takes into the tree
    int queue_batch = 10;  // queue rows (ingest batches) a sequencing round moves
    absl::Duration recheck = absl::Seconds(1);
    // How often, at most, what the feed gained is integrated into the log's
    // tree: a round per ingest batch cost more than the batch under a
    // trickle of small ones; checkpoints come every second anyway.
    absl::Duration integrate_every = absl::Milliseconds(200);
    // How long one integration batch may hold the tree's lock: batches of
    // up to `batch` rows shrink to end within it (common/batch_sizer.h).
    absl::Duration integrate_batch_time = absl::Milliseconds(100);
  };

  // Counts what it sequenced in `registry`: history_feed_sequenced_total,
  // and history_feed_sequencer_last_round_timestamp_seconds (the end of its
  // last round that succeeded: stale while it cannot work, when watchers get
  // nothing new); history_log_tree_size (leaves in the log's tree),
  // history_log_tree_refused (1 while the stored tree does not check out).
  FeedSequencer(Options options, prometheus::Registry& registry);
  ~FeedSequencer() { Stop(); }
  FeedSequencer(const FeedSequencer&) = delete;
  FeedSequencer& operator=(const FeedSequencer&) = delete;

  void Start();
  void Stop();

 private:
  void Run();
  // Listens and sequences on one connection until Stop (OK) or an error.
  absl::Status Serve(pqxx::connection& conn);
  // Integrates what the feed gained into the tree; an error about the
  // tree's data is logged and counted, a connection error returned.
  absl::Status Integrate(pqxx::connection& conn);

  const Options options_;
  prometheus::Counter& sequenced_;
  prometheus::Gauge& last_round_;
  prometheus::Gauge& tree_size_;
  prometheus::Gauge& tree_refused_;
  BatchSizer sizer_;  // Run's thread only: integration batches
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace booking

#endif  // HISTORY_SERVICE_FEED_SEQUENCER_H_
