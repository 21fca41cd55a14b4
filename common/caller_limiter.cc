#include "common/caller_limiter.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/rpc_error.h"

namespace booking {

CallerLimiter::Slot::~Slot() {
  if (limiter_ != nullptr) limiter_->Leave(caller_);
}

absl::StatusOr<CallerLimiter::Slot> CallerLimiter::Enter(const std::string& caller,
                                                         absl::Time deadline) {
  if (options_.max_per_caller <= 0) return Slot(nullptr, "");
  absl::MutexLock lock(&mu_);
  if (HasPlace(caller)) {
    ++running_[caller];
    return Slot(this, caller);
  }
  // Whether this call may wait is decided before it waits: after a wait
  // that found no place, other calls still waiting say nothing of why.
  const bool may_wait = options_.max_wait > absl::ZeroDuration() && waiting_ < options_.max_waiting;
  if (!may_wait || !WaitForPlace(caller, deadline)) return Refusal(/*waited_for_place=*/may_wait);
  ++running_[caller];
  return Slot(this, caller);
}

bool CallerLimiter::HasPlace(const std::string& caller) const {
  auto it = running_.find(caller);
  return it == running_.end() || it->second < options_.max_per_caller;
}

bool CallerLimiter::WaitForPlace(const std::string& caller, absl::Time deadline) {
  ++waiting_;
  struct Place {
    const CallerLimiter* limiter;
    const std::string* caller;
    bool operator()() const ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return limiter->HasPlace(*caller);  // evaluated with mu_ held
    }
  } place{this, &caller};
  const bool found = mu_.AwaitWithDeadline(absl::Condition(&place),
                                           std::min(deadline, absl::Now() + options_.max_wait));
  --waiting_;
  return found;
}

absl::Status CallerLimiter::Refusal(bool waited_for_place) const {
  std::string waited;
  if (options_.max_wait > absl::ZeroDuration()) {
    waited = waited_for_place
                 ? absl::StrCat(" and none ended within ", absl::FormatDuration(options_.max_wait))
                 : " and the server's waiting places are taken";
  }
  return RpcError(
             absl::StatusCode::kResourceExhausted,
             absl::StrCat("this caller already runs ", options_.max_per_caller, " ", options_.what,
                          " at once (the most one caller may)", waited, "; retry after ",
                          absl::FormatDuration(options_.retry_after), " or when one of them ends"))
      .Info("TOO_MANY_CONCURRENT_CALLS", options_.domain,
            {{"limit", absl::StrCat(options_.max_per_caller)}})
      .RetryAfter(options_.retry_after);
}

int CallerLimiter::Running(const std::string& caller) {
  absl::MutexLock lock(&mu_);
  auto it = running_.find(caller);
  return it == running_.end() ? 0 : it->second;
}

int CallerLimiter::Waiting() {
  absl::MutexLock lock(&mu_);
  return waiting_;
}

void CallerLimiter::Leave(const std::string& caller) {
  absl::MutexLock lock(&mu_);
  auto it = running_.find(caller);
  if (it == running_.end()) return;
  if (--it->second <= 0) running_.erase(it);  // the map holds running callers only
}

}  // namespace booking
