// A bound on the calls one caller runs at once: a server keyed by the
// authenticated principal lets no single caller hold every thread and
// database connection behind a kind of call (history-service's reads).
// Beyond the bound a call is refused at once with RESOURCE_EXHAUSTED, an
// ErrorInfo (reason TOO_MANY_CONCURRENT_CALLS) and a RetryInfo, before it
// touches the store.
//
// Thread safe.
#ifndef BOOKING_COMMON_CALLER_LIMITER_H_
#define BOOKING_COMMON_CALLER_LIMITER_H_

#include <map>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace booking {

class CallerLimiter {
 public:
  struct Options {
    int max_per_caller = 0;      // 0: no bound
    std::string what = "calls";  // in the refusal's message: "read calls"
    std::string domain;          // the refusal's ErrorInfo domain
    absl::Duration retry_after = absl::Milliseconds(100);
  };
  explicit CallerLimiter(Options options) : options_(std::move(options)) {}
  CallerLimiter(const CallerLimiter&) = delete;
  CallerLimiter& operator=(const CallerLimiter&) = delete;

  // One running call of a caller; ends (frees its place) when destroyed.
  class Slot {
   public:
    Slot(Slot&& other) noexcept : limiter_(other.limiter_), caller_(std::move(other.caller_)) {
      other.limiter_ = nullptr;
    }
    Slot& operator=(Slot&&) = delete;
    Slot(const Slot&) = delete;
    ~Slot();

   private:
    friend class CallerLimiter;
    Slot(CallerLimiter* limiter, std::string caller)
        : limiter_(limiter), caller_(std::move(caller)) {}
    CallerLimiter* limiter_;  // null: nothing to free
    std::string caller_;
  };

  // A place for one more call of `caller`, or the refusal when it already
  // runs max_per_caller.
  absl::StatusOr<Slot> Enter(const std::string& caller);

  // Calls `caller` runs now (for tests and metrics).
  int Running(const std::string& caller);

 private:
  void Leave(const std::string& caller);

  const Options options_;
  std::mutex mu_;
  std::map<std::string, int> running_;  // guarded by mu_; callers with a call running
};

}  // namespace booking

#endif  // BOOKING_COMMON_CALLER_LIMITER_H_
