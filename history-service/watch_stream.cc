#include "history-service/watch_stream.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/authz_interceptor.h"
#include "common/input_check.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/rpc_error.h"
#include "common/rpc_status.h"

namespace booking {
namespace {

constexpr absl::string_view kDomain = "history.v1";
constexpr absl::string_view kMethod = "history.v1.HistoryService/WatchHistory";

using Response = history::v1::WatchHistoryResponse;

// A call refused before any watch started.
class RefusedWatch final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit RefusedWatch(const absl::Status& status) {
    Finish(ToCallerStatus(status, kDomain, kMethod));
  }
  void OnDone() override { delete this; }  // gRPC's callback API: the reactor owns itself
};

class WatchStream final : public grpc::ServerWriteReactor<Response> {
 public:
  WatchStream(WatchHub& hub, std::shared_ptr<Watch> watch, std::string peer)
      : hub_(hub), watch_(std::move(watch)), peer_(std::move(peer)) {
    std::lock_guard<std::mutex> lock(watch_->mu());
    watch_->SetWakeLocked([this] { PumpLocked(); });
    PumpLocked();
  }

  void OnWriteDone(bool ok) override {
    bool poke = false;
    {
      std::lock_guard<std::mutex> lock(watch_->mu());
      writing_ = false;
      if (!ok) cancelled_ = true;  // the client is gone
      PumpLocked();
      // Catching up: the hub reads the next page once this one is sent.
      poke = !finished_ && !writing_ && !watch_->LiveLocked();
    }
    if (poke) hub_.Poke();  // not under the watch's lock (the hub's order)
  }

  void OnCancel() override {
    std::lock_guard<std::mutex> lock(watch_->mu());
    cancelled_ = true;
    PumpLocked();
  }

  void OnDone() override {
    {
      std::lock_guard<std::mutex> lock(watch_->mu());
      watch_->SetWakeLocked(nullptr);
    }
    hub_.Remove(watch_);
    LogInfo("watch ended", {{"peer", peer_}, {"sent", absl::StrCat(sent_)}});
    delete this;  // gRPC's callback API: the reactor owns itself
  }

 private:
  // One write at a time; Finish only with none in flight.
  void PumpLocked() {
    if (finished_ || writing_) return;
    if (cancelled_) return FinishLocked(grpc::Status::CANCELLED);
    if (watch_->TakeLocked(current_)) {
      writing_ = true;
      ++sent_;
      StartWrite(&current_);
      return;
    }
    if (const std::optional<absl::Status>& end = watch_->EndLocked(); end.has_value()) {
      FinishLocked(ToCallerStatus(*end, kDomain, kMethod));
    }
  }
  void FinishLocked(grpc::Status status) {
    finished_ = true;
    Finish(std::move(status));
  }

  WatchHub& hub_;
  const std::shared_ptr<Watch> watch_;
  const std::string peer_;
  Response current_;  // the message being written
  bool writing_ = false, finished_ = false, cancelled_ = false;
  int64_t sent_ = 0;
};

// Where the request starts: unset for "from now".
absl::StatusOr<std::optional<FeedPosition>> StartOf(const history::v1::WatchHistoryRequest& r) {
  if (!r.booking_id().empty()) {
    if (absl::Status s = CheckText("booking_id", r.booking_id(), limits::kMaxIdBytes); !s.ok()) {
      return s;
    }
  }
  if (r.from_start() && !r.resume_token().empty()) {
    return InvalidField("from_start", "give either from_start or a resume_token, not both");
  }
  if (r.from_start()) return std::optional<FeedPosition>(FeedPosition::Start());
  if (r.resume_token().empty()) return std::optional<FeedPosition>();
  absl::StatusOr<FeedPosition> at = DecodeToken(r.resume_token(), r.booking_id());
  if (!at.ok()) return at.status();
  return std::optional<FeedPosition>(*std::move(at));
}

absl::Status StartOn(WatchHub* hub, const std::shared_ptr<Watch>& watch) {
  if (hub == nullptr) return absl::UnimplementedError("this server has no watch hub");
  return hub->Add(watch);
}

}  // namespace

grpc::ServerWriteReactor<Response>* StartWatch(grpc::CallbackServerContext* context,
                                               const history::v1::WatchHistoryRequest& request,
                                               WatchHub* hub) {
  absl::StatusOr<std::optional<FeedPosition>> start = StartOf(request);
  absl::Status refused = CallRefusal(*context);  // authz first: a refusal tells nothing else
  if (refused.ok() && !start.ok()) refused = start.status();
  std::shared_ptr<Watch> watch;
  if (refused.ok()) {
    watch = std::make_shared<Watch>(request.booking_id(), *std::move(start));
    refused = StartOn(hub, watch);
  }
  if (!refused.ok()) return std::make_unique<RefusedWatch>(refused).release();
  LogInfo("watch started", {{"peer", context->peer()},
                            {"booking_id", request.booking_id()},
                            {"from", request.from_start()             ? "start"
                                     : request.resume_token().empty() ? "now"
                                                                      : "token"}});
  // Added to the hub before the reactor exists: the hub only queues until
  // the reactor sets the watch's wake callback, which then sends the queue.
  return std::make_unique<WatchStream>(*hub, std::move(watch), context->peer()).release();
}

}  // namespace booking
