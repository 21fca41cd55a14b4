#include "history-service/feed_sequencer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/pg.h"
#include "history-service/ingest_store.h"
#include "history-service/log_tree.h"
#include "history-service/watch_feed.h"
#include "pqxx/pqxx"

namespace booking {
namespace {

// The feed's lock (class "HF", key 0), as schema step 0008 named it: a
// history-service of before step 0011 takes it to assign positions itself.
constexpr int kFeedLockClass = 0x4846;

class QueueListener final : public pqxx::notification_receiver {
 public:
  explicit QueueListener(pqxx::connection& conn)
      : pqxx::notification_receiver(conn, kFeedQueueChannel) {}
  void operator()(const std::string&, int) override { woken_ = true; }
  bool Take() { return std::exchange(woken_, false); }

 private:
  bool woken_ = false;
};

}  // namespace

absl::StatusOr<Sequenced> SequenceQueued(pqxx::connection& conn, int limit) {
  // One message, one implicit transaction: the lock (held to its end, so
  // through COMMIT), then, in a statement whose snapshot is taken after the
  // lock (READ COMMITTED), the move of `limit` queue rows (a batch's row
  // holds its rows in order, schema step 0013, with their recorded times,
  // step 0014: a row queued without them, by an older replica or alone,
  // gets its time from the feed's trigger); positions are taken after
  // the subquery's ORDER BY, so in queue order and within a row in its order.
  const std::string sql = absl::StrCat("SELECT pg_advisory_xact_lock(", kFeedLockClass, R"(, 0);
      WITH next AS (
        DELETE FROM "BookingStatusHistoryFeedQueue"
        WHERE "queueId" IN (SELECT "queueId" FROM "BookingStatusHistoryFeedQueue"
                            ORDER BY "queueId" LIMIT )",
                                       limit, R"()
        RETURNING "queueId", COALESCE("historyIds", ARRAY["historyId"]) AS ids, "recordedAts"),
      moved AS (
        INSERT INTO "BookingStatusHistoryFeed" (position, "historyId", "recordedAt")
        SELECT nextval('"BookingStatusHistoryFeed_position_seq"'), id, recorded_at
        FROM (SELECT next."queueId", u.id, u.recorded_at, u.k
              FROM next, unnest(next.ids, next."recordedAts")
                           WITH ORDINALITY AS u(id, recorded_at, k)
              ORDER BY next."queueId", u.k) AS ordered
        RETURNING 1)
      SELECT n, rows, CASE WHEN n > 0 THEN pg_notify(')",
                                       kFeedChannel, R"(', '') END AS notified
      FROM (SELECT count(*) AS n FROM moved) AS c, (SELECT count(*) AS rows FROM next) AS r)");
  try {
    pqxx::nontransaction txn(conn, "feed sequencer");
    const pqxx::row r = txn.exec(sql).front();
    return Sequenced{r["n"].as<int64_t>(), r["rows"].as<int64_t>()};
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

FeedSequencer::FeedSequencer(Options options, prometheus::Registry& registry)
    : options_(std::move(options)),
      sequenced_(prometheus::BuildCounter()
                     .Name("history_feed_sequenced_total")
                     .Help("history rows given their watch feed position by this replica")
                     .Register(registry)
                     .Add({})),
      last_round_(prometheus::BuildGauge()
                      .Name("history_feed_sequencer_last_round_timestamp_seconds")
                      .Help("when this replica's feed sequencer last finished a round (stale: "
                            "it cannot work, and watchers get no new entries)")
                      .Register(registry)
                      .Add({})),
      tree_size_(prometheus::BuildGauge()
                     .Name("history_log_tree_size")
                     .Help("leaves in the audit trail's Merkle tree, as this replica last wrote "
                           "or read it")
                     .Register(registry)
                     .Add({})),
      tree_refused_(prometheus::BuildGauge()
                        .Name("history_log_tree_refused")
                        .Help("1 while the stored Merkle tree does not give its stored root: it "
                              "is not extended and no checkpoint covers new rows")
                        .Register(registry)
                        .Add({})),
      sizer_(options_.batch, options_.integrate_batch_time) {}

void FeedSequencer::Start() {
  thread_ = std::thread([this] { Run(); });
}

void FeedSequencer::Stop() {
  if (!thread_.joinable()) return;
  if (!stop_.HasBeenNotified()) stop_.Notify();
  thread_.join();
}

absl::Status FeedSequencer::Serve(pqxx::connection& conn) {
  QueueListener listener(conn);
  absl::Time next_look = absl::InfinitePast();  // what was queued while nobody listened
  absl::Time next_integration = absl::InfinitePast();
  absl::Time next_any_integration = absl::InfinitePast();  // rows other replicas moved
  bool moved_since_integration = true;                     // rows from before this connection
  while (!stop_.HasBeenNotified()) {
    if (listener.Take() || absl::Now() >= next_look) {
      next_look = absl::Now() + options_.recheck;
      absl::StatusOr<Sequenced> moved;
      do {
        moved = SequenceQueued(conn, options_.queue_batch);
        if (moved.ok()) sequenced_.Increment(static_cast<double>(moved->entries));
        if (moved.ok() && moved->entries > 0) moved_since_integration = true;
      } while (moved.ok() && moved->queue_rows == options_.queue_batch && !stop_.HasBeenNotified());
      if (!moved.ok()) return moved.status();
      last_round_.SetToCurrentTime();
    }
    // The tree at most every `integrate_every` (or on the periodic look, for
    // rows another replica moved): one round for many small ingest batches.
    const absl::Time now = absl::Now();
    if (now >= next_integration && (moved_since_integration || now >= next_any_integration)) {
      next_integration = now + options_.integrate_every;
      next_any_integration = now + options_.recheck;
      moved_since_integration = false;
      if (absl::Status s = Integrate(conn); !s.ok()) return s;
    }
    conn.await_notification(0, 50000);  // short: Stop is seen within one
  }
  return absl::OkStatus();
}

absl::Status FeedSequencer::Integrate(pqxx::connection& conn) {
  absl::StatusOr<Integrated> n;
  int batch = 0;
  do {
    batch = sizer_.next();
    const absl::Time start = absl::Now();
    n = IntegrateRows(conn, batch);
    if (!n.ok()) break;
    sizer_.Done(static_cast<int>(n->appended), absl::Now() - start);
    tree_size_.Set(static_cast<double>(n->head.size));
  } while (n->appended == batch && !stop_.HasBeenNotified());
  if (n.ok() || n.status().code() != absl::StatusCode::kDataLoss) {
    if (n.ok() && tree_refused_.Value() != 0) {
      LogInfo("the log's tree checks out again; integrating");
      tree_refused_.Set(0);
    }
    return n.ok() ? absl::OkStatus() : n.status();
  }
  if (tree_refused_.Value() == 0) {  // once per episode, not every round
    LogError("the log's tree is not extended: the store's tree does not check out",
             {{"error", n.status().ToString()}});
  }
  tree_refused_.Set(1);
  return absl::OkStatus();
}

void FeedSequencer::Run() {
  bool warned = false;  // once per outage, not once per retry
  while (!stop_.HasBeenNotified()) {
    absl::Status s;
    try {
      pqxx::connection conn(options_.url);
      if (warned) LogInfo("feed sequencer connected again");
      warned = false;
      s = Serve(conn);
    } catch (const std::exception& e) {
      s = StatusFromException(e);
    }
    if (s.ok()) return;  // stopped
    if (!warned) {
      LogWarning("feed sequencer failed; retrying, queued rows wait for it",
                 {{"error", s.ToString()}});
    }
    warned = true;
    stop_.WaitForNotificationWithTimeout(options_.recheck);
  }
}

}  // namespace booking
