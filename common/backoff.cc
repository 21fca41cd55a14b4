#include "common/backoff.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace booking {

Backoff::Backoff(absl::Duration initial, absl::Duration max, double multiplier)
    : initial_(std::max(initial, absl::ZeroDuration())),
      max_(std::max(max, initial_)),
      multiplier_(std::max(multiplier, 1.0)),
      next_(initial_) {}

absl::Duration Backoff::Next() {
  const absl::Duration base = next_;
  next_ = std::min(max_, next_ * multiplier_);
  ++attempts_;
  // Seeded on first use: most users (a transaction) never pause at all.
  if (!seeded_) {
    rng_.seed(std::random_device{}());
    seeded_ = true;
  }
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return base * jitter(rng_);
}

bool Backoff::Wait(const absl::Notification* stop, absl::Time deadline) {
  if (stop != nullptr && stop->HasBeenNotified()) return false;
  return Sleep(Next(), stop, deadline);
}

bool Backoff::Sleep(absl::Duration pause, const absl::Notification* stop, absl::Time deadline) {
  if (stop != nullptr && stop->HasBeenNotified()) return false;
  if (absl::Now() + pause > deadline) return false;
  if (stop == nullptr) {
    absl::SleepFor(pause);
    return true;
  }
  return !stop->WaitForNotificationWithTimeout(pause);
}

void Backoff::Reset() {
  next_ = initial_;
  attempts_ = 0;
}

}  // namespace booking
