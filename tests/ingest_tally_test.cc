// history-service's ingest log volume: one summary per interval, counting
// every event and batch once.
#include "history-service/ingest_tally.h"

#include "gtest/gtest.h"

namespace booking {
namespace {

TEST(IngestTally, SummarisesOncePerIntervalAndCountsEverythingOnce) {
  IngestTally tally(absl::Seconds(10));
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_FALSE(tally.Add(100, t0).has_value());
  EXPECT_FALSE(tally.Add(50, t0 + absl::Seconds(4)).has_value());
  std::optional<IngestTally::Summary> s = tally.Add(25, t0 + absl::Seconds(10));
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->events, 175);
  EXPECT_EQ(s->batches, 3);
  EXPECT_EQ(s->over, absl::Seconds(10));
  // The next interval starts at the summary.
  EXPECT_FALSE(tally.Add(1, t0 + absl::Seconds(15)).has_value());
  s = tally.Flush(t0 + absl::Seconds(16));
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->events, 1);
  EXPECT_EQ(s->batches, 1);
  EXPECT_EQ(s->over, absl::Seconds(6));
  EXPECT_FALSE(tally.Flush(t0 + absl::Seconds(17)).has_value());
}

}  // namespace
}  // namespace booking
