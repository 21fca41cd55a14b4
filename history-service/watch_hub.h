// The watches of one history-service process and what feeds them: one
// listener connection (LISTEN history_feed: every replica's ingest NOTIFYs on
// commit) wakes one reader thread, which reads the feed once for all watches
// that are live (caught up) and, page by page, for each watch still catching
// up from its token. A notification only wakes: the reader also looks every
// `recheck`, so a missed one (listener reconnecting) delays entries, never
// loses them. Entries queue per watch, at most `buffer`: a live watch whose
// queue fills (a burst, a slow client) goes back to catching up from the
// store at its own pace, so memory stays bounded and nothing is lost. A
// watch whose queue stays full with nothing sent for `stall` is ended
// (RESOURCE_EXHAUSTED, WATCH_TOO_SLOW): its client resumes from its token.
#ifndef HISTORY_SERVICE_WATCH_HUB_H_
#define HISTORY_SERVICE_WATCH_HUB_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/limits.h"
#include "common/pqxx_fwd.h"
#include "history-service/watch_feed.h"
#include "history/v1/history.pb.h"

namespace booking {

class PgPool;

// One watch, shared by its stream and the hub.
//
// Thread safe: the stream's side under mu(), the rest the hub's reader thread's alone.
class Watch {
 public:
  // `start` unset: from now (the feed's head when the hub first sees it).
  Watch(std::string booking_id, std::optional<FeedPosition> start)
      : booking_id_(std::move(booking_id)), at_(std::move(start)) {}

  // The stream's side, all under mu().
  std::mutex& mu() { return mu_; }
  // Called under mu() whenever a message was queued or the watch ended.
  void SetWakeLocked(std::function<void()> wake) { wake_ = std::move(wake); }
  // The next message; false when none is queued.
  bool TakeLocked(history::v1::WatchHistoryResponse& out);
  // Set once the watch is to end with this status (nothing more is queued).
  const std::optional<absl::Status>& EndLocked() const { return end_; }
  bool LiveLocked() const { return live_; }

 private:
  friend class WatchHub;
  std::mutex mu_;
  const std::string booking_id_;
  std::optional<FeedPosition> at_;          // the last position queued (reader thread only)
  bool started_ = false;                    // its first bookmark queued (reader thread only)
  int64_t taken_ ABSL_GUARDED_BY(mu_) = 0;  // messages taken by the stream
  int64_t taken_seen_ = -1;  // taken_ when the queue was last seen full (reader thread)
  absl::Time full_since_;    // since then (reader thread only)
  bool live_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<history::v1::WatchHistoryResponse> queue_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> end_ ABSL_GUARDED_BY(mu_);
  std::function<void()> wake_ ABSL_GUARDED_BY(mu_);
};

// Thread safe.
class WatchHub {
 public:
  struct Options {
    std::string listen_url;  // libpq URL of the listener's own connection
    int buffer = limits::kWatchBufferEntries;
    absl::Duration recheck = absl::Seconds(1);
    absl::Duration stall = absl::Seconds(10);
  };
  WatchHub(PgPool& pool, Options options);
  ~WatchHub();  // stops the threads
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  void Start();

  // UNAVAILABLE while draining, RESOURCE_EXHAUSTED beyond limits::kMaxWatches.
  absl::Status Add(std::shared_ptr<Watch> watch);
  void Remove(const std::shared_ptr<Watch>& watch);
  // Something changed (a notification, a queue drained): read again.
  void Poke();
  // SIGTERM: ends every watch (UNAVAILABLE, SHUTTING_DOWN) and refuses new
  // ones, so that the server's shutdown is not held by them.
  void Drain();

 private:
  void ListenLoop();
  void ReadLoop();
  // One pass over every watch; state advances with each page delivered, so
  // an error part-way loses and repeats nothing.
  absl::Status Round(const std::vector<std::shared_ptr<Watch>>& watches);
  void ServeLive(pqxx::transaction_base& txn, const std::vector<std::shared_ptr<Watch>>& watches,
                 int64_t head);
  void CatchUp(pqxx::transaction_base& txn, Watch& watch, int64_t head);
  // Under watch.mu_: queue entries of a live watch; false when its queue
  // filled (it catches up from the store from there on).
  bool OfferLocked(Watch& watch, const std::vector<FeedEntry>& page);
  // Under watch.mu_: ends a watch whose queue stayed full, nothing taken,
  // for options_.stall.
  void CutIfStalledLocked(Watch& watch);
  static void EndLocked(Watch& watch, absl::Status status);
  static void QueueLocked(Watch& watch, const history::v1::HistoryEntry* entry,
                          const FeedPosition& at);
  bool WaitStop(absl::Duration d);

  PgPool& pool_;
  const Options options_;
  int64_t live_head_ = 0;  // what every live watch has been offered (reader thread only)
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool poked_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  std::set<std::shared_ptr<Watch>> watches_ ABSL_GUARDED_BY(mu_);
  std::thread listener_, reader_;
};

}  // namespace booking

#endif  // HISTORY_SERVICE_WATCH_HUB_H_
