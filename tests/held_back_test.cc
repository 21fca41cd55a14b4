// The held-back table stays bounded under hostile ingest: 30,000 gaps, forks
// and conflicting duplicates (new event ids, varying reasons) leave at most
// one row per place and reason, held rows within --held-back-per-booking and
// --held-back-max-rows, retired rows only at places history stores; events
// over a cap keep their disposition (a gap is still GAP: the relay sends it
// again later) and are counted and logged. history_held_back_rows matches the
// table, crosses the alert's threshold, and still matches after a restart.
// Filling a gap releases its row (or retires it when other content was seen
// there). Through the relay, a gap over the cap waits in the outbox and
// arrives. Real PostgreSQL, real history-service and booking-service.
#include <csignal>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/ingest_client.h"
#include "tests/support/metrics_scrape.h"
#include "tests/support/pg_suite.h"
#include "tests/support/process.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"

namespace booking::testing {
namespace {

constexpr int kPerBooking = 5;
constexpr int kMaxRows = 1000;
constexpr int kRealBookings = 50;  // three stored entries each
constexpr int kHostile = 30000;
constexpr int kBatch = 500;

const std::vector<std::string> kFlags = {absl::StrCat("--held-back-per-booking=", kPerBooking),
                                         absl::StrCat("--held-back-max-rows=", kMaxRows)};

class HeldBackTest : public PgSuite {};

int64_t Count(const ServiceSet& set, const std::string& where) {
  return QueryCount(set.history_url(),
                    absl::StrCat(R"(SELECT count(*) FROM "BookingStatusHeldBack" WHERE )", where));
}

std::string Row(const ServiceSet& set, const std::string& booking) {
  return QueryValue(set.history_url(),
                    absl::StrCat(R"(SELECT string_agg(sequence || ':' || "heldReason" || ':' ||
                                        COALESCE(outcome, 'held') || ':' || "timesSeen" || ':' ||
                                        "sawOtherContent", ' ' ORDER BY sequence, "heldReason")
                      FROM "BookingStatusHeldBack" WHERE "bookingId" = ')",
                                 booking, "'"));
}

double Metric(const ServiceSet& set, const std::string& name) {
  absl::StatusOr<std::vector<MetricSample>> samples = ScrapeSamples(set.history_metrics_target());
  EXPECT_TRUE(samples.ok()) << samples.status();
  return samples.ok() ? SumOf(*samples, name) : -1;
}

// The i-th hostile event: a gap (on 500 bookings, 10 places each, every
// place twice with new ids), a fork at a stored place (new ids), or a stored
// event id again with another reason.
history::v1::StatusChangeEvent Hostile(int i) {
  const int j = i / 3;
  switch (i % 3) {
    case 0: {
      auto e = StatusEvent(EventId(1000000 + i), absl::StrCat("hostile-", (j / 10) % 500),
                           10 + j % 10, "CONFIRMED", "CANCELLED", "intruder");
      e.set_reason(absl::StrCat("gap ", i));
      return e;
    }
    case 1: {
      const int seq = 1 + j % 3;
      auto e = StatusEvent(EventId(1000000 + i), absl::StrCat("real-", j % kRealBookings), seq,
                           seq == 1 ? "" : "CONFIRMED", "CANCELLED", "intruder");
      e.set_reason(absl::StrCat("fork ", i));
      return e;
    }
    default: {
      const int booking = j % kRealBookings, seq = 1 + j % 3;
      auto e = StatusEvent(EventId(booking * 10 + seq), absl::StrCat("real-", booking), seq,
                           seq == 1 ? "" : "CONFIRMED", "CONFIRMED");
      e.set_reason(absl::StrCat("conflict ", i));
      return e;
    }
  }
}

history::v1::StatusChangeEvent Fill(char booking, int64_t sequence, const std::string& from,
                                    const std::string& to) {
  return StatusEvent(EventId(900000 + booking * 10 + sequence),
                     absl::StrCat("fill-", std::string(1, booking)), sequence, from, to);
}

// The genuine stories (real-N: 1..3; fill-N: 1), then gaps at fill-N's
// place 3: its own event on fill-1, its own and another on fill-2, only a
// forged one (from_status will not follow) on fill-3.
void SeedStories(IngestClient& client) {
  std::vector<history::v1::StatusChangeEvent> real;
  for (int b = 0; b < kRealBookings; ++b) {
    const std::string id = absl::StrCat("real-", b);
    real.push_back(StatusEvent(EventId(b * 10 + 1), id, 1, "", "CONFIRMED"));
    real.push_back(StatusEvent(EventId(b * 10 + 2), id, 2, "CONFIRMED", "CONFIRMED"));
    real.push_back(StatusEvent(EventId(b * 10 + 3), id, 3, "CONFIRMED", "CONFIRMED"));
  }
  for (char b : {'1', '2', '3'}) real.push_back(Fill(b, 1, "", "PENDING_PAYMENT"));
  auto ack = client.Send(real);
  ASSERT_TRUE(ack.ok()) << ack.status();
  ASSERT_EQ(ack->stored(), static_cast<int>(real.size()));
  ack =
      client.Send({Fill('1', 3, "CONFIRMED", "CANCELLED"), Fill('2', 3, "CONFIRMED", "CANCELLED"),
                   StatusEvent(EventId(990002), "fill-2", 3, "CONFIRMED", "PICKUP_ASSIGNED", "x"),
                   StatusEvent(EventId(990003), "fill-3", 3, "PENDING_PAYMENT", "CANCELLED", "x")});
  ASSERT_TRUE(ack.ok()) << ack.status();
  ASSERT_EQ(ack->rejected_size(), 4);
  for (const auto& r : ack->rejected()) EXPECT_EQ(r.disposition(), history::v1::GAP) << r.reason();
}

// kHostile events in batches: none stored; those over a cap keep their
// disposition (some of them gaps), said in the reason.
void Attack(IngestClient& client) {
  int refused_gaps = 0;
  for (int start = 0; start < kHostile; start += kBatch) {
    std::vector<history::v1::StatusChangeEvent> batch;
    for (int i = start; i < start + kBatch; ++i) batch.push_back(Hostile(i));
    auto ack = client.Send(batch);
    ASSERT_TRUE(ack.ok()) << ack.status();
    ASSERT_EQ(ack->rejected_size(), kBatch);
    for (const auto& r : ack->rejected()) {
      if (r.reason().find("not kept by history") == std::string::npos) continue;
      EXPECT_NE(r.disposition(), history::v1::MALFORMED) << r.reason();
      refused_gaps += r.disposition() == history::v1::GAP;
    }
  }
  EXPECT_GT(refused_gaps, 0);
}

// Held rows within both caps; retired ones one per stored place and reason
// (forks and conflicts at the 150 real places), every sighting counted.
void ExpectBounded(const ServiceSet& set) {
  EXPECT_EQ(Count(set, R"("retiredAt" IS NULL)"), kMaxRows);  // the attack filled it
  EXPECT_EQ(QueryCount(set.history_url(), R"(SELECT coalesce(max(n), 0) FROM
                  (SELECT count(*) AS n FROM "BookingStatusHeldBack" WHERE "retiredAt" IS NULL
                   GROUP BY "bookingId") AS per)"),
            kPerBooking);
  EXPECT_EQ(Count(set, R"("retiredAt" IS NOT NULL AND "bookingId" LIKE 'real-%')"),
            2 * 3 * kRealBookings);
  EXPECT_LE(Count(set, "true"), kMaxRows + 2 * 3 * kRealBookings);
  EXPECT_EQ(QueryCount(set.history_url(), R"(SELECT sum("timesSeen") FROM "BookingStatusHeldBack"
                                              WHERE "bookingId" LIKE 'real-%')"),
            2 * kHostile / 3);
  // The last event is kept beside the first.
  EXPECT_EQ(Count(set, R"("bookingId" LIKE 'real-%' AND NOT "sawOtherContent")"), 0);
  EXPECT_EQ(Count(set, R"("bookingId" LIKE 'real-%' AND "lastEventId" = "eventId"
                          AND "heldReason" = 'fork')"),
            0);
  EXPECT_GT(Metric(set, "history_held_back_refused_total"), 0);
  EXPECT_NE(set.Logs().find("event not held back: a cap is reached"), std::string::npos);
}

// The gauges are the table's, and the alert's condition holds.
void ExpectGaugesAndAlert(const ServiceSet& set) {
  const double held = Metric(set, "history_held_back_rows");
  EXPECT_EQ(held, static_cast<double>(Count(set, R"("retiredAt" IS NULL)")));
  EXPECT_EQ(Metric(set, "history_held_back_retired_rows"),
            static_cast<double>(Count(set, R"("retiredAt" IS NOT NULL)")));
  const double cap = Metric(set, "history_held_back_max_rows");
  EXPECT_EQ(cap, kMaxRows);
  EXPECT_GT(held, 0.8 * cap);  // HistoryHeldBackNearCap in deploy/monitoring
  EXPECT_NE(ReadFile(std::string(SOURCE_DIR) + "/deploy/monitoring/alert-rules.yaml")
                .find("history_held_back_rows > 0.8 * history_held_back_max_rows"),
            std::string::npos);
}

// Filling the gaps, the table full: fill-1's row leaves (its event stored,
// nothing else seen), fill-2's is retired as stored (another event came),
// fill-3's forged one as superseded.
void FillGaps(IngestClient& client, const ServiceSet& set) {
  auto ack = client.Send(
      {Fill('1', 2, "PENDING_PAYMENT", "CONFIRMED"), Fill('2', 2, "PENDING_PAYMENT", "CONFIRMED"),
       Fill('3', 2, "PENDING_PAYMENT", "CONFIRMED"), Fill('3', 3, "CONFIRMED", "CANCELLED")});
  ASSERT_TRUE(ack.ok()) << ack.status();
  EXPECT_EQ(ack->stored(), 4) << ack->DebugString();
  EXPECT_EQ(Row(set, "fill-1"), "NULL");
  EXPECT_EQ(Row(set, "fill-2"), "3:gap:stored:2:true");
  EXPECT_EQ(Row(set, "fill-3"), "3:gap:superseded:1:false");
  EXPECT_EQ(QueryCount(set.history_url(), R"(SELECT count(*) FROM "BookingStatusHistory"
                                              WHERE "bookingId" LIKE 'fill-%')"),
            9);
}

TEST_F(HeldBackTest, HostileEventsLeaveABoundedTable) {
  auto created = ServiceSet::Create(*pg_, "heldback");
  ASSERT_TRUE(created.ok()) << created.status();
  ServiceSet& set = **created;
  ASSERT_TRUE(set.StartHistory(kFlags).ok()) << set.Logs();
  IngestClient client(set.history_target());
  ASSERT_NO_FATAL_FAILURE(SeedStories(client));
  ASSERT_NO_FATAL_FAILURE(Attack(client));
  ExpectBounded(set);
  ExpectGaugesAndAlert(set);
  ASSERT_NO_FATAL_FAILURE(FillGaps(client, set));

  // The maintained counts are the table's; after a restart the gauges too.
  const std::string counts = QueryValue(set.history_url(), R"(SELECT held || ' ' || retired
                                                               FROM "BookingStatusHeldBackCount")");
  EXPECT_EQ(counts, absl::StrCat(Count(set, R"("retiredAt" IS NULL)"), " ",
                                 Count(set, R"("retiredAt" IS NOT NULL)")));
  ASSERT_TRUE(set.StopHistory(SIGTERM).ok());
  ASSERT_TRUE(set.StartHistory(kFlags).ok()) << set.Logs();
  EXPECT_EQ(absl::StrCat(Metric(set, "history_held_back_rows"), " ",
                         Metric(set, "history_held_back_retired_rows")),
            counts);
}

// Through the relay, with the booking's held rows at the cap: its gap is not
// kept by history but stays in the outbox (GAP), is sent again after its
// pause once the missing event is stored, and nothing is set aside.
TEST_F(HeldBackTest, AGapOverTheCapWaitsInTheOutboxAndArrives) {
  auto created = ServiceSet::Create(*pg_, "heldrelay");
  ASSERT_TRUE(created.ok()) << created.status();
  ServiceSet& set = **created;
  ASSERT_TRUE(set.StartHistory(kFlags).ok()) << set.Logs();
  ASSERT_TRUE(set.StartBooking().ok()) << set.Logs();
  {
    IngestClient intruder(set.history_target());
    std::vector<history::v1::StatusChangeEvent> gaps;
    for (int seq = 10; seq < 10 + kPerBooking; ++seq) {
      gaps.push_back(StatusEvent(EventId(2000000 + seq), "capped", seq, "CONFIRMED", "CANCELLED"));
    }
    auto ack = intruder.Send(gaps);
    ASSERT_TRUE(ack.ok()) << ack.status();
    ASSERT_EQ(Count(set, R"("bookingId" = 'capped' AND "retiredAt" IS NULL)"), kPerBooking);
  }
  const std::string& booking = set.booking_url();
  auto wait = [&](const std::string& url, const std::string& sql, int64_t want) {
    return WaitForCount(url, sql, want, absl::Seconds(30));
  };
  Exec(booking, R"(INSERT INTO "BookingOutbox" ("bookingId", sequence, "fromStatus", "toStatus",
                                                 "changedBy")
                   VALUES ('capped', 1, NULL, 'PENDING_PAYMENT', 'test'),
                          ('capped', 3, 'CONFIRMED', 'CANCELLED', 'test');
                   NOTIFY booking_outbox)");
  ASSERT_TRUE(wait(booking, R"(SELECT count(*) FROM "BookingOutbox"
                               WHERE "bookingId" = 'capped' AND "heldCount" >= 1)",
                   1))
      << set.Logs();
  EXPECT_EQ(Count(set, R"("bookingId" = 'capped' AND sequence = 3)"), 0);
  EXPECT_NE(set.Logs().find("event not held back: a cap is reached"), std::string::npos);

  Exec(booking, R"(INSERT INTO "BookingOutbox" ("bookingId", sequence, "fromStatus", "toStatus",
                                                 "changedBy")
                   VALUES ('capped', 2, 'PENDING_PAYMENT', 'CONFIRMED', 'test');
                   NOTIFY booking_outbox)");
  ASSERT_TRUE(wait(booking, R"(SELECT count(*) FROM "BookingOutbox")", 0)) << set.Logs();
  EXPECT_EQ(QueryCount(set.history_url(), R"(SELECT count(*) FROM "BookingStatusHistory"
                                              WHERE "bookingId" = 'capped')"),
            3);
  EXPECT_EQ(QueryCount(booking, R"(SELECT count(*) FROM "BookingOutboxRejected")"), 0);
}

}  // namespace
}  // namespace booking::testing
