#include "tests/support/wait.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace booking::testing {

absl::Status WaitForStatus(absl::FunctionRef<absl::Status()> probe, absl::Duration timeout,
                           absl::string_view what, absl::Duration poll) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    absl::Status last = probe();
    if (last.ok()) return last;
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("waited ", absl::FormatDuration(timeout),
                                                      " for ", what, "; last: ", last.ToString()));
    }
    absl::SleepFor(std::min(poll, deadline - now));
  }
}

void Pace(absl::Duration interval) { absl::SleepFor(interval); }

void HoldFor(absl::Duration window) { absl::SleepFor(window); }

}  // namespace booking::testing
