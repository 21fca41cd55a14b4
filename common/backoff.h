// Exponential backoff with jitter: the one retry schedule of the project
// (lock conflicts in the migrator, transaction conflicts in the pool, the
// relay's sessions and stream reconnects), so no loop writes its own.
//
//   Backoff backoff(absl::Milliseconds(50), absl::Seconds(2));
//   while (!TryOnce()) {
//     if (!backoff.Wait(&stop, deadline)) return last_error;  // stopping, or out of time
//   }
#ifndef BOOKING_COMMON_BACKOFF_H_
#define BOOKING_COMMON_BACKOFF_H_

#include <random>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace booking {

// Not thread safe: owned by one thread.
class Backoff {
 public:
  // Pauses start at `initial` and grow by `multiplier` up to `max`.
  Backoff(absl::Duration initial, absl::Duration max, double multiplier = 2.0);

  // The pause before the next attempt: grows by `multiplier` up to `max`,
  // each pause jittered to between half and all of it (so retries of many
  // clients spread out). Counts an attempt.
  absl::Duration Next();

  // Pauses for Next() before another attempt; true when it may be made.
  // False, without pausing, when `stop` has been notified or when the pause
  // would end after `deadline` (no time is left for another attempt); false
  // as soon as `stop` is notified during the pause.
  bool Wait(const absl::Notification* stop = nullptr, absl::Time deadline = absl::InfiniteFuture());
  bool Wait(absl::Time deadline) { return Wait(nullptr, deadline); }

  // Wait in two steps, for a caller that tells the pause (in a log line)
  // before taking it: Sleep(Next(), ...) is Wait(...).
  static bool Sleep(absl::Duration pause, const absl::Notification* stop = nullptr,
                    absl::Time deadline = absl::InfiniteFuture());

  // After a success: the next pause is `initial` again.
  void Reset();
  // Pauses taken (Next calls) since construction or Reset.
  int attempts() const { return attempts_; }

 private:
  const absl::Duration initial_;
  const absl::Duration max_;
  const double multiplier_;
  absl::Duration next_;
  int attempts_ = 0;
  std::minstd_rand rng_;
  bool seeded_ = false;
};

}  // namespace booking

#endif  // BOOKING_COMMON_BACKOFF_H_
