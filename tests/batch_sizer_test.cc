// BatchSizer (common/batch_sizer.h): batches shrink to the time budget when
// a batch runs long, grow back at most twice a batch, stay within bounds.
#include "common/batch_sizer.h"

#include <random>

#include "gtest/gtest.h"

namespace booking {
namespace {

TEST(BatchSizer, StartsSmallAndDoublesWhileQuick) {
  BatchSizer sizer(5000, absl::Milliseconds(100), 50);
  EXPECT_EQ(sizer.next(), 50);
  for (int expected : {100, 200, 400, 800, 1600, 3200, 5000, 5000}) {
    sizer.Done(sizer.next(), absl::Milliseconds(1));
    EXPECT_EQ(sizer.next(), expected);
  }
}

TEST(BatchSizer, ShrinksToWhatFitsTheBudget) {
  BatchSizer sizer(5000, absl::Milliseconds(100));
  sizer.Done(50, absl::Milliseconds(1));
  sizer.Done(100, absl::Milliseconds(1));
  sizer.Done(200, absl::Milliseconds(1));
  sizer.Done(400, absl::Milliseconds(1));
  sizer.Done(800, absl::Milliseconds(1));
  sizer.Done(1600, absl::Milliseconds(1));
  sizer.Done(3200, absl::Milliseconds(1));
  ASSERT_EQ(sizer.next(), 5000);
  sizer.Done(5000, absl::Milliseconds(278));  // the fold's batch at 10M rows
  EXPECT_EQ(sizer.next(), 1798);              // 5000 * 100 / 278
}

TEST(BatchSizer, GrowsAtMostTwiceABatch) {
  BatchSizer sizer(5000, absl::Milliseconds(100), 500);
  sizer.Done(500, absl::Milliseconds(100));
  ASSERT_EQ(sizer.next(), 500);
  sizer.Done(500, absl::Milliseconds(1));  // a warm cache: 50x the budget's rate
  EXPECT_EQ(sizer.next(), 1000);
  sizer.Done(1000, absl::Milliseconds(2));
  sizer.Done(sizer.next(), absl::Milliseconds(4));
  sizer.Done(sizer.next(), absl::Milliseconds(8));
  EXPECT_EQ(sizer.next(), 5000);  // never above the maximum
}

TEST(BatchSizer, NeverBelowTheMinimum) {
  BatchSizer sizer(5000, absl::Milliseconds(100), 50);
  sizer.Done(50, absl::Minutes(10));
  EXPECT_EQ(sizer.next(), 50);
}

TEST(BatchSizer, AShortQuickBatchTellsNothing) {
  BatchSizer sizer(5000, absl::Milliseconds(100), 50);
  sizer.Done(50, absl::Milliseconds(10));
  ASSERT_EQ(sizer.next(), 100);
  sizer.Done(3, absl::Milliseconds(1));  // the last few rows of a run
  EXPECT_EQ(sizer.next(), 100);
  sizer.Done(30, absl::Milliseconds(300));  // short but slow: it shrinks
  EXPECT_EQ(sizer.next(), 50);
}

TEST(BatchSizer, ZeroBudgetKeepsTheMaximum) {
  BatchSizer sizer(700, absl::ZeroDuration());
  sizer.Done(700, absl::Seconds(5));
  EXPECT_EQ(sizer.next(), 700);
}

// Random rates and budgets: the size stays within bounds, and a batch run
// at the measured rate at the next size fits the budget (up to rounding)
// unless the size is at the minimum.
TEST(BatchSizer, RandomRatesStayWithinTheBudget) {
  std::mt19937_64 rng(22);
  for (int round = 0; round < 2000; ++round) {
    const int max_rows = std::uniform_int_distribution<int>(1, 20000)(rng);
    const int min_rows = std::uniform_int_distribution<int>(1, 100)(rng);
    const absl::Duration budget =
        absl::Microseconds(std::uniform_int_distribution<int>(1000, 500000)(rng));
    BatchSizer sizer(max_rows, budget, min_rows);
    for (int k = 0; k < 20; ++k) {
      const double micros_per_row = std::uniform_real_distribution<double>(0.1, 500.0)(rng);
      const int rows = sizer.next();
      sizer.Done(rows, absl::Microseconds(static_cast<int64_t>(rows * micros_per_row) + 1));
      const int next = sizer.next();
      ASSERT_GE(next, std::min(min_rows, max_rows));
      ASSERT_LE(next, max_rows);
      ASSERT_LE(next, 2 * rows) << "round " << round;
      if (next > min_rows) {
        ASSERT_LE(next * micros_per_row, absl::ToDoubleMicroseconds(budget) + micros_per_row)
            << "round " << round;
      }
    }
  }
}

}  // namespace
}  // namespace booking
