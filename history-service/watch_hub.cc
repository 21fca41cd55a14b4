#include "history-service/watch_hub.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/rpc_error.h"
#include "pqxx/pqxx"

namespace booking {
namespace {

constexpr int kPage = 500;  // rows per feed read
constexpr absl::string_view kDomain = "history.v1";

class FeedListener final : public pqxx::notification_receiver {
 public:
  FeedListener(pqxx::connection_base& conn, std::function<void()> on_notify)
      : pqxx::notification_receiver(conn, kFeedChannel), on_notify_(std::move(on_notify)) {}
  void operator()(const std::string&, int) override { on_notify_(); }

 private:
  std::function<void()> on_notify_;
};

}  // namespace

bool Watch::TakeLocked(history::v1::WatchHistoryResponse& out) {
  if (queue_.empty()) return false;
  out = std::move(queue_.front());
  queue_.pop_front();
  ++taken_;
  return true;
}

WatchHub::WatchHub(PgPool& pool, Options options) : pool_(pool), options_(std::move(options)) {}

WatchHub::~WatchHub() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (listener_.joinable()) listener_.join();
  if (reader_.joinable()) reader_.join();
}

void WatchHub::Start() {
  listener_ = std::thread([this] { ListenLoop(); });
  reader_ = std::thread([this] { ReadLoop(); });
}

absl::Status WatchHub::Add(std::shared_ptr<Watch> watch) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (draining_) {
      return RpcError(absl::StatusCode::kUnavailable, "history-service is shutting down")
          .Info("SHUTTING_DOWN", std::string(kDomain));
    }
    if (watches_.size() >= limits::kMaxWatches) {
      return RpcError(absl::StatusCode::kResourceExhausted,
                      absl::StrCat("history-service already has ", limits::kMaxWatches,
                                   " watches open; retry with backoff"))
          .Info("TOO_MANY_WATCHES", std::string(kDomain));
    }
    watches_.insert(std::move(watch));
    poked_ = true;
  }
  cv_.notify_all();
  return absl::OkStatus();
}

void WatchHub::Remove(const std::shared_ptr<Watch>& watch) {
  std::lock_guard<std::mutex> lock(mu_);
  watches_.erase(watch);
}

void WatchHub::Poke() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    poked_ = true;
  }
  cv_.notify_all();
}

void WatchHub::Drain() {
  std::vector<std::shared_ptr<Watch>> watches;
  {
    std::lock_guard<std::mutex> lock(mu_);
    draining_ = true;
    watches.assign(watches_.begin(), watches_.end());
  }
  // Not under mu_: a stream pokes the hub while holding its watch's lock.
  for (const std::shared_ptr<Watch>& w : watches) {
    std::lock_guard<std::mutex> watch_lock(w->mu_);
    EndLocked(*w, RpcError(absl::StatusCode::kUnavailable,
                           "history-service is shutting down; resume with the last resume_token")
                      .Info("SHUTTING_DOWN", std::string(kDomain)));
  }
  LogInfo("watches end for shutdown", {{"watches", absl::StrCat(watches.size())}});
}

bool WatchHub::WaitStop(absl::Duration d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, absl::ToChronoMilliseconds(d), [&] { return stopping_; });
  return stopping_;
}

void WatchHub::ListenLoop() {
  bool warned = false;  // once per outage, not once per retry
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    try {
      pqxx::connection conn(options_.listen_url);
      FeedListener listener(conn, [this] { Poke(); });
      Poke();  // what was stored while nobody listened
      LogInfo("watch listener connected");
      warned = false;
      while (!WaitStop(absl::ZeroDuration())) {
        // Short waits: Stop is seen within one.
        if (conn.await_notification(0, 200000) > 0) Poke();
      }
      return;
    } catch (const std::exception& e) {
      if (!warned) {
        LogWarning(
            "watch listener lost its connection; retrying, the periodic re-check covers "
            "the gap",
            {{"error", e.what()}});
      }
      warned = true;
    }
    if (WaitStop(options_.recheck)) return;
  }
}

void WatchHub::ReadLoop() {
  bool failing = false;  // warned once per outage
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, absl::ToChronoMilliseconds(options_.recheck),
                 [&] { return stopping_ || poked_; });
    if (stopping_) break;
    poked_ = false;
    std::vector<std::shared_ptr<Watch>> watches(watches_.begin(), watches_.end());
    if (watches.empty()) continue;
    lock.unlock();
    absl::Status s = Round(watches);
    if (!s.ok() && !failing) LogWarning("watch read failed; retried", {{"error", s.ToString()}});
    failing = !s.ok();
    lock.lock();
  }
}

absl::Status WatchHub::Round(const std::vector<std::shared_ptr<Watch>>& watches) {
  // Not RunRead: a read repeated after delivering part of it would deliver
  // twice. State advances per page instead, and the next round goes on.
  return pool_.Run([&](pqxx::connection& conn) -> absl::Status {
    pqxx::nontransaction txn(conn);
    const int64_t head = FeedHead(txn);
    ServeLive(txn, watches, head);
    for (const std::shared_ptr<Watch>& w : watches) CatchUp(txn, *w, head);
    return absl::OkStatus();
  });
}

// Reads (live_head_, head] once for every live watch. Every position up to
// `head` is committed (positions become visible in order), so this range
// never grows later.
void WatchHub::ServeLive(pqxx::transaction_base& txn,
                         const std::vector<std::shared_ptr<Watch>>& watches, int64_t head) {
  const bool any_live = std::any_of(watches.begin(), watches.end(), [](const auto& w) {
    std::lock_guard<std::mutex> lock(w->mu_);
    return w->live_ && !w->end_;
  });
  if (!any_live) live_head_ = head;  // nobody to offer the rows to
  while (live_head_ < head) {
    absl::StatusOr<std::vector<FeedEntry>> page =
        ReadFeed(txn, FeedPosition::After(live_head_), head, "", kPage);
    if (!page.ok()) throw std::runtime_error(page.status().ToString());
    const int64_t upto = static_cast<int>(page->size()) < kPage ? head : page->back().at.position;
    for (const std::shared_ptr<Watch>& w : watches) {
      std::lock_guard<std::mutex> lock(w->mu_);
      if (!w->live_ || w->end_) continue;
      if (OfferLocked(*w, *page)) w->at_ = FeedPosition::After(upto);
    }
    live_head_ = upto;
  }
}

bool WatchHub::OfferLocked(Watch& w, const std::vector<FeedEntry>& page) {
  for (const FeedEntry& e : page) {
    if (!w.booking_id_.empty() && e.entry.booking_id() != w.booking_id_) continue;
    if (static_cast<int>(w.queue_.size()) >= options_.buffer) {
      w.live_ = false;  // at_ is the last entry queued: the store has the rest
      return false;
    }
    QueueLocked(w, &e.entry, e.at);
    w.at_ = e.at;
  }
  return true;
}

void WatchHub::CutIfStalledLocked(Watch& w) {
  if (w.end_ || static_cast<int>(w.queue_.size()) < options_.buffer) {
    w.taken_seen_ = -1;
    return;
  }
  const absl::Time now = absl::Now();
  if (w.taken_seen_ != w.taken_) {  // full now, or full again after progress
    w.taken_seen_ = w.taken_;
    w.full_since_ = now;
    return;
  }
  if (now - w.full_since_ < options_.stall) return;
  LogWarning("watch cut off: too slow", {{"buffer", absl::StrCat(options_.buffer)},
                                         {"stalled", absl::FormatDuration(now - w.full_since_)}});
  EndLocked(
      w, RpcError(absl::StatusCode::kResourceExhausted,
                  absl::StrCat("the watcher took nothing from its full buffer of ", options_.buffer,
                               " entries for ", absl::FormatDuration(options_.stall),
                               "; resume from the last resume_token"))
             .Info("WATCH_TOO_SLOW", std::string(kDomain),
                   {{"buffer", absl::StrCat(options_.buffer)}}));
}

void WatchHub::CatchUp(pqxx::transaction_base& txn, Watch& w, int64_t head) {
  std::optional<FeedPosition> at;
  int room = 0;
  {
    std::lock_guard<std::mutex> lock(w.mu_);
    CutIfStalledLocked(w);
    if (w.end_ || w.live_) return;
    if (!w.started_) {
      w.started_ = true;
      if (!w.at_) w.at_ = FeedPosition::After(head);  // from now
      if (!w.at_->legacy && w.at_->position > head) {
        EndLocked(w, InvalidField("resume_token", "is ahead of this store: not one of its tokens"));
        return;
      }
      QueueLocked(w, nullptr, *w.at_);  // the first bookmark
    }
    at = w.at_;
    room = std::min(kPage, options_.buffer - static_cast<int>(w.queue_.size()));
  }
  if (room <= 0) return;  // poked again once the stream has sent some
  absl::StatusOr<std::vector<FeedEntry>> page = ReadFeed(txn, *at, head, w.booking_id_, room);
  if (!page.ok()) throw std::runtime_error(page.status().ToString());
  std::lock_guard<std::mutex> lock(w.mu_);
  if (w.end_) return;
  for (const FeedEntry& e : *page) QueueLocked(w, &e.entry, e.at);
  if (!page->empty()) w.at_ = page->back().at;
  if (static_cast<int>(page->size()) < room) {
    w.at_ = FeedPosition::After(head);  // caught up: the live reads go on from here
    w.live_ = true;
  }
}

void WatchHub::EndLocked(Watch& w, absl::Status status) {
  if (w.end_) return;
  w.end_ = std::move(status);
  w.queue_.clear();  // the client resumes from the last token it received
  if (w.wake_) w.wake_();
}

void WatchHub::QueueLocked(Watch& w, const history::v1::HistoryEntry* entry,
                           const FeedPosition& at) {
  history::v1::WatchHistoryResponse& r = w.queue_.emplace_back();
  if (entry != nullptr) *r.mutable_entry() = *entry;
  r.set_resume_token(EncodeToken(at, w.booking_id_));
  if (w.wake_) w.wake_();
}

}  // namespace booking
