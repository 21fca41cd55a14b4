// CallerLimiter: a bound per caller, refusals with ErrorInfo and RetryInfo,
// places freed when a call ends, callers independent, 0 for no bound.
#include "common/caller_limiter.h"

#include <optional>
#include <vector>

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

}  // namespace
}  // namespace booking
