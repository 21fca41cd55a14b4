// History accepts only a consistent story per booking: gaps, forks and
// conflicting duplicates are held back, counted and reported; a gap's event
// is stored once the missing one arrives; two streams never both store a
// booking's sequence; the relay sends a gap again later and sets a fork
// aside. Real PostgreSQL, real history-service and booking-service.
#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/ingest_client.h"
#include "tests/support/pg_suite.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

class HistoryConsistencyTest : public PgSuite {
 protected:
  static void SetUpTestSuite() {
    PgSuite::SetUpTestSuite();
    if (pg_ == nullptr) return;
    auto set = ServiceSet::CreateAndStart(*pg_, "consistency");
    ASSERT_TRUE(set.ok()) << set.status();
    set_ = *std::move(set);
  }
  static void TearDownTestSuite() {
    set_.reset();
    PgSuite::TearDownTestSuite();
  }
  void SetUp() override {
    PgSuite::SetUp();
    ASSERT_NE(set_, nullptr);
  }

  // "seq:to" of the booking's history, oldest first.
  static std::string Story(const std::string& booking) {
    return QueryValue(set_->history_url(),
                      absl::StrCat(R"(SELECT string_agg(sequence || ':' || "toStatus", ' '
                                                        ORDER BY sequence)
                                      FROM "BookingStatusHistory" WHERE "bookingId" = ')",
                                   booking, "'"));
  }
  static std::string Held(const std::string& booking) {
    return QueryValue(set_->history_url(),
                      absl::StrCat(R"(SELECT string_agg(sequence || ':' || "heldReason", ' '
                                                        ORDER BY sequence, "heldReason")
                                      FROM "BookingStatusHeldBack" WHERE "bookingId" = ')",
                                   booking, "'"));
  }
  static double HeldMetric(const std::string& reason) {
    absl::StatusOr<double> v =
        ScrapeMetric(set_->history_metrics_target(),
                     absl::StrCat("history_held_back_events_total{reason=\"", reason, "\"}"));
    return v.ok() ? *v : -1;
  }

  inline static std::unique_ptr<ServiceSet> set_;
};

TEST_F(HistoryConsistencyTest, GapIsHeldAndStoredWhenTheMissingEventArrives) {
  IngestClient client(set_->history_target());
  const double gaps_before = HeldMetric("gap");
  auto ack = client.Send({StatusEvent(EventId(101), "gap-1", 1, "", "PENDING_PAYMENT")});
  ASSERT_TRUE(ack.ok()) << ack.status();
  EXPECT_EQ(ack->stored(), 1);

  const auto third = StatusEvent(EventId(103), "gap-1", 3, "CONFIRMED", "PICKUP_ASSIGNED");
  for (int attempt = 0; attempt < 2; ++attempt) {  // sent twice: held once, counted once
    ack = client.Send({third});
    ASSERT_TRUE(ack.ok()) << ack.status();
    EXPECT_EQ(ack->stored(), 0);
    ASSERT_EQ(ack->rejected_size(), 1);
    EXPECT_EQ(ack->rejected(0).disposition(), history::v1::GAP);
    EXPECT_NE(ack->rejected(0).reason().find("sequence 2 has not arrived"), std::string::npos)
        << ack->rejected(0).reason();
  }
  EXPECT_EQ(Story("gap-1"), "1:PENDING_PAYMENT");
  EXPECT_EQ(Held("gap-1"), "3:gap");
  EXPECT_EQ(HeldMetric("gap"), gaps_before + 1);

  // The real event arrives: it is stored, and the held one after it.
  ack = client.Send({StatusEvent(EventId(102), "gap-1", 2, "PENDING_PAYMENT", "CONFIRMED")});
  ASSERT_TRUE(ack.ok()) << ack.status();
  EXPECT_EQ(ack->stored(), 1);
  EXPECT_EQ(ack->rejected_size(), 0);
  EXPECT_EQ(Story("gap-1"), "1:PENDING_PAYMENT 2:CONFIRMED 3:PICKUP_ASSIGNED");
  EXPECT_EQ(Held("gap-1"), "NULL");
  // Sent again, the held event is now a duplicate.
  ack = client.Send({third});
  ASSERT_TRUE(ack.ok());
  EXPECT_EQ(ack->duplicates(), 1);
}

TEST_F(HistoryConsistencyTest, OutOfOrderInOneBatchIsStoredInOrder) {
  IngestClient client(set_->history_target());
  auto ack = client.Send({StatusEvent(EventId(203), "order-1", 3, "CONFIRMED", "CANCELLED"),
                          StatusEvent(EventId(202), "order-1", 2, "PENDING_PAYMENT", "CONFIRMED"),
                          StatusEvent(EventId(201), "order-1", 1, "", "PENDING_PAYMENT")});
  ASSERT_TRUE(ack.ok()) << ack.status();
  EXPECT_EQ(ack->stored(), 3);
  EXPECT_EQ(ack->rejected_size(), 0);
  EXPECT_EQ(Story("order-1"), "1:PENDING_PAYMENT 2:CONFIRMED 3:CANCELLED");
}

TEST_F(HistoryConsistencyTest, ForksAndConflictingDuplicatesAreHeldNeverStored) {
  IngestClient client(set_->history_target());
  const double forks_before = HeldMetric("fork");
  const double conflicts_before = HeldMetric("conflict");
  ASSERT_TRUE(client
                  .Send({StatusEvent(EventId(301), "fork-1", 1, "", "PENDING_PAYMENT"),
                         StatusEvent(EventId(302), "fork-1", 2, "PENDING_PAYMENT", "CONFIRMED")})
                  .ok());
  // A forged entry for a taken sequence, one whose from-status does not
  // follow, and a stored event id sent with other content.
  auto ack =
      client.Send({StatusEvent(EventId(399), "fork-1", 2, "PENDING_PAYMENT", "CANCELLED", "ceo"),
                   StatusEvent(EventId(398), "fork-1", 3, "PENDING_PAYMENT", "CANCELLED", "ceo"),
                   StatusEvent(EventId(302), "fork-1", 2, "PENDING_PAYMENT", "CANCELLED", "ceo")});
  ASSERT_TRUE(ack.ok()) << ack.status();
  EXPECT_EQ(ack->stored(), 0);
  ASSERT_EQ(ack->rejected_size(), 3);
  EXPECT_EQ(ack->rejected(0).disposition(), history::v1::FORK);
  EXPECT_NE(ack->rejected(0).reason().find("sequence 2 is already recorded"), std::string::npos);
  EXPECT_EQ(ack->rejected(1).disposition(), history::v1::FORK);
  EXPECT_NE(ack->rejected(1).reason().find("is not \"CONFIRMED\""), std::string::npos)
      << ack->rejected(1).reason();
  EXPECT_EQ(ack->rejected(2).disposition(), history::v1::CONFLICT);
  EXPECT_EQ(Held("fork-1"), "2:conflict 2:fork 3:fork");
  EXPECT_EQ(HeldMetric("fork"), forks_before + 2);
  EXPECT_EQ(HeldMetric("conflict"), conflicts_before + 1);
  // The real next event is stored all the same.
  ack = client.Send({StatusEvent(EventId(303), "fork-1", 3, "CONFIRMED", "PICKUP_ASSIGNED")});
  ASSERT_TRUE(ack.ok());
  EXPECT_EQ(ack->stored(), 1);
  EXPECT_EQ(Story("fork-1"), "1:PENDING_PAYMENT 2:CONFIRMED 3:PICKUP_ASSIGNED");
  EXPECT_NE(set_->Logs().find("event held back"), std::string::npos);
}

// Two streams offer each sequence of one booking at the same moment, with
// different event ids: exactly one is stored, the other is a fork.
TEST_F(HistoryConsistencyTest, TwoStreamsNeverStoreOneSequenceTwice) {
  constexpr int kRounds = 60;
  std::atomic<int> stored{0}, forks{0}, failures{0};
  auto offer = [&](int stream) {
    IngestClient client(set_->history_target());
    for (int seq = 1; seq <= kRounds; ++seq) {
      const std::string from = seq == 1 ? "" : "CONFIRMED";
      auto ack = client.Send({StatusEvent(EventId(1000000 + stream * 1000 + seq), "race-1", seq,
                                          from, "CONFIRMED", absl::StrCat("stream-", stream))});
      if (!ack.ok()) {
        ++failures;
        return;
      }
      stored += ack->stored();
      for (const auto& r : ack->rejected()) forks += r.disposition() == history::v1::FORK;
      // Both wait until the sequence is stored by one of them.
      const std::string sql = absl::StrCat(R"(SELECT count(*) FROM "BookingStatusHistory"
                                              WHERE "bookingId" = 'race-1' AND sequence = )",
                                           seq);
      if (!WaitFor([&] { return QueryCount(set_->history_url(), sql) > 0; }, absl::Seconds(30), sql,
                   absl::Milliseconds(1))
               .ok()) {
        ++failures;
        return;
      }
    }
  };
  std::thread a(offer, 1), b(offer, 2);
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(stored.load(), kRounds);
  EXPECT_EQ(forks.load(), kRounds);
  EXPECT_EQ(QueryCount(set_->history_url(),
                       R"(SELECT count(DISTINCT sequence) FROM "BookingStatusHistory"
                          WHERE "bookingId" = 'race-1')"),
            kRounds);
}

// Through the relay: a gap stays in the outbox and is sent again after a
// pause (no spinning), a fork is set aside; once the missing event is in the
// outbox, everything reaches history and the outbox drains.
TEST_F(HistoryConsistencyTest, RelaySendsAGapAgainLaterAndSetsAForkAside) {
  const std::string& booking = set_->booking_url();
  Exec(booking, R"(INSERT INTO "BookingOutbox" ("bookingId", sequence, "fromStatus", "toStatus",
                                                 "changedBy")
                   VALUES ('relay-gap', 1, NULL, 'PENDING_PAYMENT', 'test'),
                          ('relay-gap', 3, 'CONFIRMED', 'CANCELLED', 'test'),
                          ('relay-fork', 1, NULL, 'PENDING_PAYMENT', 'test'),
                          ('relay-fork', 1, NULL, 'CONFIRMED', 'test');
                   NOTIFY booking_outbox)");
  auto wait = [&](const std::string& url, const std::string& sql, int64_t want) {
    return WaitFor([&] { return QueryCount(url, sql) == want; }, absl::Seconds(30), sql).ok();
  };
  ASSERT_TRUE(wait(booking, R"(SELECT count(*) FROM "BookingOutbox"
                               WHERE "bookingId" = 'relay-gap' AND "heldCount" >= 1)",
                   1))
      << set_->Logs();
  ASSERT_TRUE(wait(booking, R"(SELECT count(*) FROM "BookingOutboxRejected"
                               WHERE "bookingId" = 'relay-fork')",
                   1));
  EXPECT_EQ(Story("relay-fork"), "1:PENDING_PAYMENT");
  EXPECT_EQ(Story("relay-gap"), "1:PENDING_PAYMENT");
  EXPECT_EQ(Held("relay-gap"), "3:gap");
  // Paused, not spinning: a handful of sends at most within a second.
  HoldFor(absl::Seconds(1));
  EXPECT_LE(QueryCount(booking, R"(SELECT max("heldCount") FROM "BookingOutbox")"), 2);

  Exec(booking, R"(INSERT INTO "BookingOutbox" ("bookingId", sequence, "fromStatus", "toStatus",
                                                 "changedBy")
                   VALUES ('relay-gap', 2, 'PENDING_PAYMENT', 'CONFIRMED', 'test');
                   NOTIFY booking_outbox)");
  ASSERT_TRUE(wait(booking, R"(SELECT count(*) FROM "BookingOutbox")", 0)) << set_->Logs();
  EXPECT_EQ(Story("relay-gap"), "1:PENDING_PAYMENT 2:CONFIRMED 3:CANCELLED");
  EXPECT_EQ(Held("relay-gap"), "NULL");
  EXPECT_EQ(QueryCount(booking, R"(SELECT count(*) FROM "BookingOutboxRejected"
                                   WHERE "bookingId" = 'relay-gap')"),
            0);
}

}  // namespace
}  // namespace booking::testing
