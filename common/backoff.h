// Exponential backoff with jitter: the one retry schedule of the project
// (lock conflicts in the migrator, reconnects), so no loop writes its own.
#ifndef BOOKING_COMMON_BACKOFF_H_
#define BOOKING_COMMON_BACKOFF_H_

#include <random>

#include "absl/time/time.h"

namespace booking {

class Backoff {
 public:
  Backoff(absl::Duration initial, absl::Duration max, double multiplier = 2.0)
      : initial_(initial), max_(max), multiplier_(multiplier), next_(initial) {}

  // The pause before the next attempt: grows by `multiplier` up to `max`,
  // each pause jittered to between half and all of it (so retries of many
  // clients spread out).
  absl::Duration Next() {
    const absl::Duration base = next_;
    next_ = std::min(max_, next_ * multiplier_);
    ++attempts_;
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    return base * jitter(rng_);
  }
  void Reset() {
    next_ = initial_;
    attempts_ = 0;
  }
  int attempts() const { return attempts_; }

 private:
  const absl::Duration initial_;
  const absl::Duration max_;
  const double multiplier_;
  absl::Duration next_;
  int attempts_ = 0;
  std::minstd_rand rng_{std::random_device{}()};
};

}  // namespace booking

#endif  // BOOKING_COMMON_BACKOFF_H_
