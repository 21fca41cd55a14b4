// A bound on the calls one caller runs at once: a server keyed by the
// authenticated principal lets no single caller hold every thread and
// database connection behind a kind of call (history-service's reads).
//
// A call beyond the bound waits up to `max_wait` (and never past its own
// deadline) for one of the caller's calls to end, then runs; a call that
// found no place in that time is refused with RESOURCE_EXHAUSTED, an
// ErrorInfo (reason TOO_MANY_CONCURRENT_CALLS) and a RetryInfo, before it
// touches the store. The wait is what keeps a caller that ignores RetryInfo
// and calls again at once from turning the bound into a storm of refusals
// that takes the CPU (a refusal costs a caller at least `max_wait`, as it
// costs one that honours RetryInfo). Waiting calls cost no CPU but each
// holds a server thread, so at most `max_waiting` wait at once, across all
// callers; beyond that a call is refused at once.
//
// Thread safe.
#ifndef BOOKING_COMMON_CALLER_LIMITER_H_
#define BOOKING_COMMON_CALLER_LIMITER_H_

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace booking {

class CallerLimiter {
 public:
  struct Options {
    int max_per_caller = 0;      // 0: no bound
    std::string what = "calls";  // in the refusal's message: "read calls"
    std::string domain;          // the refusal's ErrorInfo domain
    absl::Duration retry_after = absl::Milliseconds(100);
    absl::Duration max_wait = absl::ZeroDuration();  // zero: refuse at once
    int max_waiting = 0;  // calls waiting at once, all callers; 0: none wait
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

  // A place for one more call of `caller`, after waiting as the class comment
  // says (never past `deadline`), or the refusal.
  absl::StatusOr<Slot> Enter(const std::string& caller,
                             absl::Time deadline = absl::InfiniteFuture());

  // Calls `caller` runs now, and calls waiting now (for tests and metrics).
  int Running(const std::string& caller);
  int Waiting();

 private:
  bool HasPlace(const std::string& caller) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits (one of the max_waiting places taken) until `caller` has a place
  // or max_wait or `deadline` passes; whether it found one.
  bool WaitForPlace(const std::string& caller, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Refusal(bool waited_for_place) const;
  void Leave(const std::string& caller);

  const Options options_;
  absl::Mutex mu_;
  std::map<std::string, int> running_ ABSL_GUARDED_BY(mu_);  // callers with a call running
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace booking

#endif  // BOOKING_COMMON_CALLER_LIMITER_H_
