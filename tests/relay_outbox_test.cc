// The relay's outbox statements (booking-service/relay_outbox.h) against a
// store `migrator up` made:
// - ReadBatch deletes the acknowledged events it is given and reads the next
//   batch in one message: the read sees the delete; when the message fails,
//   neither took effect (nothing acknowledged is lost, nothing deleted that
//   was not);
// - a batch that stops at its limit says more may be pending;
// - ReadBacklog counts the outbox exactly up to kBacklogCountCap events,
//   however wide their id span (an event held back for minutes does not
//   inflate it), and reports the span (an upper bound) beyond.
#include "booking-service/relay_outbox.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "tests/support/pg_suite.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"

namespace booking::testing {
namespace {

class RelayOutboxTest : public PgSuite {
 protected:
  void SetUp() override {
    PgSuite::SetUp();
    static int tests = 0;
    auto created = ServiceSet::Create(*pg_, absl::StrCat("relay_outbox_", ++tests));
    ASSERT_TRUE(created.ok()) << created.status();
    services_ = *std::move(created);
    url_ = services_->booking_url();
  }

  // An event of booking `booking` with outbox id `id` (0: the table's next).
  void AddEvent(const std::string& booking, int64_t id = 0) {
    Exec(url_, absl::StrCat(R"(INSERT INTO "BookingOutbox" ()", id > 0 ? "id, " : "",
                            R"("bookingId", sequence, "toStatus", "changedBy") VALUES ()",
                            id > 0 ? absl::StrCat(id, ", ") : "", "'", booking,
                            "', 1, 'CONFIRMED', 'test')"));
  }
  int64_t Outbox() { return QueryCount(url_, R"(SELECT count(*) FROM "BookingOutbox")"); }

  static std::vector<int> All() {
    std::vector<int> all;
    for (int p = 0; p < kRelayPartitions; ++p) all.push_back(p);
    return all;
  }

  std::unique_ptr<ServiceSet> services_;
  std::string url_;
};

TEST_F(RelayOutboxTest, TheAcknowledgedAreDeletedInTheMessageOfTheNextRead) {
  for (int i = 0; i < 5; ++i) AddEvent(absl::StrCat("b-", i));
  pqxx::connection conn(url_);
  absl::StatusOr<Batch> first = ReadBatch(conn, All(), {}, {.max_events = 3});
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->outbox_ids.size(), 3u);
  EXPECT_TRUE(first->more);  // stopped at its limit

  absl::StatusOr<Batch> next = ReadBatch(conn, All(), {}, {.max_events = 3}, first->outbox_ids);
  ASSERT_TRUE(next.ok()) << next.status();
  // The read came after the delete: the first three are neither read nor kept.
  EXPECT_EQ(next->outbox_ids.size(), 2u);
  EXPECT_FALSE(next->more);
  EXPECT_EQ(Outbox(), 2);
}

TEST_F(RelayOutboxTest, WhenTheReadFailsTheDeleteInItsMessageTakesNoEffect) {
  for (int i = 0; i < 3; ++i) AddEvent(absl::StrCat("b-", i));
  pqxx::connection conn(url_);
  absl::StatusOr<Batch> first = ReadBatch(conn, All(), {}, {.max_events = 2});
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->outbox_ids.size(), 2u);
  // A read that fails after its DELETE ran (the limit is refused by the server).
  absl::StatusOr<Batch> failed = ReadBatch(conn, All(), {}, {.max_events = -1}, first->outbox_ids);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(Outbox(), 3);
}

TEST_F(RelayOutboxTest, TheBacklogIsCountedUpToTheCapAndEstimatedFromTheIdSpanBeyond) {
  pqxx::connection conn(url_);
  absl::StatusOr<Backlog> empty = ReadBacklog(conn);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->events, 0);
  EXPECT_FALSE(empty->estimated);
  EXPECT_EQ(empty->oldest_age_seconds, 0);

  // Three events with holes between their ids: counted, not the span.
  AddEvent("a", 100);
  AddEvent("b", 150);
  AddEvent("c", 200);
  absl::StatusOr<Backlog> counted = ReadBacklog(conn);
  ASSERT_TRUE(counted.ok()) << counted.status();
  EXPECT_EQ(counted->events, 3);
  EXPECT_FALSE(counted->estimated);

  // A span wider than the cap, few events (one held back long ago): still
  // counted.
  AddEvent("d", 100 + 3 * kBacklogCountCap);
  absl::StatusOr<Backlog> wide = ReadBacklog(conn);
  ASSERT_TRUE(wide.ok()) << wide.status();
  EXPECT_EQ(wide->events, 4);
  EXPECT_FALSE(wide->estimated);

  // More events than the cap: the span, said to be an estimate.
  Exec(url_, absl::StrCat(R"(INSERT INTO "BookingOutbox" (id, "bookingId", sequence, "toStatus",
                                  "changedBy")
                             SELECT 1000 + g, 'e' || g, 1, 'CONFIRMED', 'test'
                             FROM generate_series(1, )",
                          kBacklogCountCap, ") AS g"));
  absl::StatusOr<Backlog> estimated = ReadBacklog(conn);
  ASSERT_TRUE(estimated.ok()) << estimated.status();
  EXPECT_EQ(estimated->events, static_cast<double>(3 * kBacklogCountCap + 1));
  EXPECT_TRUE(estimated->estimated);
  EXPECT_GE(estimated->oldest_age_seconds, 0);
}

}  // namespace
}  // namespace booking::testing
