// The one way a test waits: a condition polled until it holds or a timeout
// passes, and the one way a load generator paces its calls. No other test
// code sleeps (scripts/check-structure.py --rules sleep fails when one does).
//
//   ASSERT_EQ(WaitFor([&] { return acked() >= 100; }, absl::Seconds(30), "100 acks"),
//             absl::OkStatus());
//
// Thread safety: the functions keep no state; a condition is called on the
// caller's thread only.
#ifndef TESTS_SUPPORT_WAIT_H_
#define TESTS_SUPPORT_WAIT_H_

#include <type_traits>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace booking::testing {

// How often a condition is checked unless the caller says otherwise.
inline constexpr absl::Duration kPollEvery = absl::Milliseconds(20);

// Checks `probe` at once and then every `poll` until it returns OK or
// `timeout` has passed (it is checked once more at the deadline). A non-OK
// answer means "not yet" and says why. Returns OK, or DEADLINE_EXCEEDED
// naming `what`, the timeout and the probe's last answer.
absl::Status WaitForStatus(absl::FunctionRef<absl::Status()> probe, absl::Duration timeout,
                           absl::string_view what, absl::Duration poll = kPollEvery);

// As WaitForStatus, for a condition returning bool (true: done) or
// absl::Status (OK: done; otherwise why not yet).
template <typename Condition>
absl::Status WaitFor(Condition&& condition, absl::Duration timeout, absl::string_view what,
                     absl::Duration poll = kPollEvery) {
  if constexpr (std::is_same_v<std::decay_t<std::invoke_result_t<Condition&>>, absl::Status>) {
    return WaitForStatus(condition, timeout, what, poll);
  } else {
    return WaitForStatus(
        [&condition]() -> absl::Status {
          return condition() ? absl::OkStatus() : absl::UnavailableError("condition false");
        },
        timeout, what, poll);
  }
}

// Pacing, not synchronisation: the interval between a load generator's calls,
// or the delay a server asked a client to wait (RetryInfo). Never to wait for
// something to happen: use WaitFor.
void Pace(absl::Duration interval);

// A window in which a test shows that something does NOT happen (no
// spinning, no second delivery) or holds a state for a scenario's length
// (a lock held longer than a timeout). Never to wait for something to
// happen: use WaitFor.
void HoldFor(absl::Duration window);

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_WAIT_H_
