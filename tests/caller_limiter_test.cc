// CallerLimiter: a bound per caller, refusals with ErrorInfo and RetryInfo,
// places freed when a call ends, callers independent, 0 for no bound.
#include "common/caller_limiter.h"

#include <optional>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/rpc_error.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

CallerLimiter::Options Bound(int n) {
  return {.max_per_caller = n, .what = "read calls", .domain = "history.v1"};
}

TEST(CallerLimiterTest, RefusesTheCallBeyondTheBoundWithRetryInfo) {
  CallerLimiter limiter(Bound(2));
  auto a = limiter.Enter("alice");
  auto b = limiter.Enter("alice");
  ASSERT_TRUE(a.ok() && b.ok());
  absl::StatusOr<CallerLimiter::Slot> c = limiter.Enter("alice");
  ASSERT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted);
  google::rpc::Status details = DetailsOf(c.status());
  bool info = false, retry = false;
  for (const google::protobuf::Any& any : details.details()) {
    google::rpc::ErrorInfo i;
    google::rpc::RetryInfo r;
    if (any.UnpackTo(&i)) {
      info = i.reason() == "TOO_MANY_CONCURRENT_CALLS" && i.domain() == "history.v1" &&
             i.metadata().at("limit") == "2";
    } else if (any.UnpackTo(&r)) {
      retry = r.retry_delay().nanos() == 100000000;
    }
  }
  EXPECT_TRUE(info) << details.DebugString();
  EXPECT_TRUE(retry) << details.DebugString();
  // Another caller is not held back by alice's calls.
  EXPECT_TRUE(limiter.Enter("bob").ok());
  EXPECT_EQ(limiter.Running("alice"), 2);
}

TEST(CallerLimiterTest, AnEndedCallFreesItsPlace) {
  CallerLimiter limiter(Bound(1));
  {
    absl::StatusOr<CallerLimiter::Slot> a = limiter.Enter("alice");
    ASSERT_TRUE(a.ok());
    std::optional<CallerLimiter::Slot> moved(*std::move(a));  // a move frees nothing
    EXPECT_FALSE(limiter.Enter("alice").ok());
  }
  EXPECT_EQ(limiter.Running("alice"), 0);
  EXPECT_TRUE(limiter.Enter("alice").ok());
}

TEST(CallerLimiterTest, ZeroMeansNoBound) {
  CallerLimiter limiter(Bound(0));
  std::vector<CallerLimiter::Slot> slots;
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<CallerLimiter::Slot> s = limiter.Enter("alice");
    ASSERT_TRUE(s.ok());
    slots.push_back(*std::move(s));
  }
}

CallerLimiter::Options Waiting(int n, absl::Duration wait, int max_waiting) {
  CallerLimiter::Options o = Bound(n);
  o.max_wait = wait;
  o.max_waiting = max_waiting;
  return o;
}

// Waits (deadline 30 s) until `limiter` has `n` calls waiting.
bool WaitForWaiters(CallerLimiter& limiter, int n) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (limiter.Waiting() != n) {
    if (absl::Now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST(CallerLimiterTest, ACallBeyondTheBoundRunsWhenAPlaceFreesWithinTheWait) {
  CallerLimiter limiter(Waiting(1, absl::Hours(1), 4));
  std::optional<CallerLimiter::Slot> first(*limiter.Enter("alice"));
  absl::Notification entered;
  std::thread second([&] {
    absl::StatusOr<CallerLimiter::Slot> s = limiter.Enter("alice");
    EXPECT_TRUE(s.ok()) << s.status();
    entered.Notify();
  });
  ASSERT_TRUE(WaitForWaiters(limiter, 1));
  EXPECT_FALSE(entered.HasBeenNotified());
  EXPECT_TRUE(limiter.Enter("bob").ok());  // another caller does not wait
  first.reset();                           // alice's first call ends
  second.join();
  EXPECT_TRUE(entered.HasBeenNotified());
  EXPECT_EQ(limiter.Waiting(), 0);
}

TEST(CallerLimiterTest, ACallThatFindsNoPlaceIsRefusedAfterTheWaitNotBefore) {
  const absl::Duration wait = absl::Milliseconds(50);
  CallerLimiter limiter(Waiting(1, wait, 4));
  auto first = limiter.Enter("alice");
  ASSERT_TRUE(first.ok());
  const absl::Time start = absl::Now();
  absl::StatusOr<CallerLimiter::Slot> s = limiter.Enter("alice");
  EXPECT_GE(absl::Now() - start, wait);  // a lower bound: the refusal is held
  ASSERT_EQ(s.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(s.status().message().find("none ended within 50ms"), std::string::npos)
      << s.status().message();
}

TEST(CallerLimiterTest, EachCallThatWaitedInVainSaysSoThoughOthersStillWait) {
  CallerLimiter limiter(Waiting(1, absl::Milliseconds(50), 4));
  auto first = limiter.Enter("alice");
  ASSERT_TRUE(first.ok());
  std::vector<std::string> messages(3);
  std::vector<std::thread> waiters;
  for (std::string& m : messages) {
    waiters.emplace_back([&limiter, &m] { m = limiter.Enter("alice").status().ToString(); });
  }
  for (std::thread& t : waiters) t.join();
  for (const std::string& m : messages) {
    EXPECT_NE(m.find("none ended within 50ms"), std::string::npos) << m;
  }
}

TEST(CallerLimiterTest, TheCallsOwnDeadlineEndsItsWait) {
  CallerLimiter limiter(Waiting(1, absl::Hours(1), 4));
  auto first = limiter.Enter("alice");
  ASSERT_TRUE(first.ok());
  // A deadline already past: refused without waiting the hour.
  absl::StatusOr<CallerLimiter::Slot> s = limiter.Enter("alice", absl::Now());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(CallerLimiterTest, BeyondMaxWaitingACallIsRefusedAtOnce) {
  CallerLimiter limiter(Waiting(1, absl::Hours(1), 2));
  std::optional<CallerLimiter::Slot> first(*limiter.Enter("alice"));
  std::vector<std::thread> waiters;
  for (int i = 0; i < 2; ++i) {
    waiters.emplace_back([&] { EXPECT_TRUE(limiter.Enter("alice").ok()); });
  }
  ASSERT_TRUE(WaitForWaiters(limiter, 2));
  // Both waiting places are taken: the third is refused without waiting the hour.
  absl::StatusOr<CallerLimiter::Slot> third = limiter.Enter("alice");
  ASSERT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(third.status().message().find("waiting places are taken"), std::string::npos)
      << third.status().message();
  first.reset();  // each waiter runs in turn, ending its call as it goes
  for (std::thread& t : waiters) t.join();
  EXPECT_EQ(limiter.Running("alice"), 0);
}

}  // namespace
}  // namespace booking
