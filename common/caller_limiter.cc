#include "common/caller_limiter.h"

#include "absl/strings/str_cat.h"
#include "common/rpc_error.h"

namespace booking {

CallerLimiter::Slot::~Slot() {
  if (limiter_ != nullptr) limiter_->Leave(caller_);
}

absl::StatusOr<CallerLimiter::Slot> CallerLimiter::Enter(const std::string& caller) {
  if (options_.max_per_caller <= 0) return Slot(nullptr, "");
  {
    std::lock_guard<std::mutex> lock(mu_);
    int& running = running_[caller];
    if (running < options_.max_per_caller) {
      ++running;
      return Slot(this, caller);
    }
  }
  return RpcError(
             absl::StatusCode::kResourceExhausted,
             absl::StrCat("this caller already runs ", options_.max_per_caller, " ", options_.what,
                          " at once (the most one caller may); retry after ",
                          absl::FormatDuration(options_.retry_after), " or when one of them ends"))
      .Info("TOO_MANY_CONCURRENT_CALLS", options_.domain,
            {{"limit", absl::StrCat(options_.max_per_caller)}})
      .RetryAfter(options_.retry_after);
}

int CallerLimiter::Running(const std::string& caller) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = running_.find(caller);
  return it == running_.end() ? 0 : it->second;
}

void CallerLimiter::Leave(const std::string& caller) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = running_.find(caller);
  if (it == running_.end()) return;
  if (--it->second <= 0) running_.erase(it);  // the map holds running callers only
}

}  // namespace booking
