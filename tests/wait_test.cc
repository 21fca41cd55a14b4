// tests/support/wait.h, the one way a test waits: a condition that comes true
// ends the wait; one that never does ends it at the timeout with an error
// naming what was awaited and the last answer; a condition is checked once
// more at the deadline.
#include "tests/support/wait.h"

#include <atomic>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace booking::testing {
namespace {

TEST(WaitFor, EndsWhenTheConditionHolds) {
  int calls = 0;
  EXPECT_EQ(WaitFor([&] { return ++calls == 3; }, absl::Seconds(10), "three calls",
                    absl::Milliseconds(1)),
            absl::OkStatus());
  EXPECT_EQ(calls, 3);
}

TEST(WaitFor, SeesAChangeMadeByAnotherThread) {
  std::atomic<bool> flag{false};
  std::thread setter([&] { flag = true; });
  EXPECT_EQ(WaitFor([&] { return flag.load(); }, absl::Seconds(10), "the flag"), absl::OkStatus());
  setter.join();
}

TEST(WaitFor, FailsAtTheTimeoutNamingWhatAndTheLastAnswer) {
  const absl::Time start = absl::Now();
  int calls = 0;
  const absl::Status s = WaitFor(
      [&] {
        ++calls;
        return absl::UnavailableError("still 7 rows");
      },
      absl::Milliseconds(100), "an empty outbox", absl::Milliseconds(10));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(100));
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(s.message().find("an empty outbox"), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("still 7 rows"), absl::string_view::npos) << s;
  EXPECT_GE(calls, 2);  // at once, and again at the deadline at least
}

TEST(WaitFor, ChecksOnceMoreAtTheDeadline) {
  // A poll longer than the timeout: the second check is at the deadline.
  const absl::Time due = absl::Now() + absl::Milliseconds(50);
  EXPECT_EQ(WaitFor([&] { return absl::Now() >= due; }, absl::Milliseconds(50), "the deadline",
                    absl::Seconds(10)),
            absl::OkStatus());
}

}  // namespace
}  // namespace booking::testing
