// WatchHistory's positions are given after commit (the feed's sequencer): a
// batch that inserted its rows first but commits after another stream's
// batch is still delivered, live and to a watcher resuming from the other
// batch's token (a position taken at insert would have been skipped); four
// concurrent streams keep each booking's order; a row queued without a
// wake-up is still sequenced. Plus a watch driven from JSON (as grpcurl
// does), and rows stored through another history-service replica reaching a
// watcher.
#include <chrono>
#include <map>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "tests/support/history_suite.h"
#include "tests/support/ingest_client.h"
#include "tests/support/pg_suite.h"
#include "tests/support/process.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"
#include "tests/support/wait.h"
#include "tests/support/watch_client.h"

namespace booking::testing {
namespace {

constexpr char kPrefix[] = "watchorder";

class WatchOrderTest : public HistorySuite<kPrefix> {};

TEST_F(WatchOrderTest, ABatchCommittingAfterALaterOneIsNotSkipped) {
  {  // x:2 alone: held back as a gap until x:1 comes
    IngestClient c(Target());
    absl::StatusOr<history::v1::IngestAck> ack = c.Send(Chain("order-x", 2, 2, 100));
    ASSERT_TRUE(ack.ok() && ack->rejected_size() == 1) << ack.status();
  }
  // Holds the held-back row, so that the batch storing x:1 and x:2 inserts
  // its rows and then waits (to delete that row) before it can commit.
  pqxx::connection blocker(set_->history_url());
  pqxx::work hold(blocker);
  hold.exec(R"(SELECT 1 FROM "BookingStatusHeldBack" WHERE "bookingId" = 'order-x' FOR UPDATE)");
  auto w = OpenWatch(Target(), {});
  absl::StatusOr<history::v1::IngestAck> first_ack;
  std::thread first([&] {
    IngestClient a(Target());
    first_ack = a.Send(Chain("order-x", 1, 1, 100));
  });
  const absl::Status waited = WaitFor(
      [&] {
        return QueryCount(set_->history_url(), "SELECT count(*) FROM pg_locks WHERE NOT granted") >
               0;
      },
      absl::Seconds(60), "the first batch waiting on the lock", absl::Milliseconds(50));
  if (!waited.ok()) {
    hold.abort();
    first.join();
    FAIL() << waited << "\n" << set_->Logs();
  }
  // Meanwhile another stream's batch inserts after it and commits first.
  IngestAll(Target(), Chain("order-y", 1, 3, 200));
  EXPECT_EQ(Keys(w->Entries(3)), ExpectedKeys("order-y", 1, 3));
  const std::string after_y = w->last_token();
  hold.abort();
  first.join();
  ASSERT_TRUE(first_ack.ok()) << first_ack.status();
  ASSERT_EQ(first_ack->stored(), 1) << first_ack->DebugString();
  EXPECT_EQ(Keys(w->Entries(2)), (std::vector<std::string>{"order-x:1", "order-x:2"}));
  // And once more for a watcher resuming from the last entry it saw before.
  auto resumed = OpenWatch(Target(), ResumeFrom(after_y));
  IngestAll(Target(), Chain("order-end", 1, 1, 300));
  EXPECT_EQ(KeysUntil(*resumed, "order-end"),
            (std::vector<std::string>{"order-x:1", "order-x:2", "order-end:1"}));
}

TEST_F(WatchOrderTest, AWatchDrivenFromJson) {
  IngestAll(Target(), Chain("json-b", 1, 2, 400));
  namespace pbu = google::protobuf::util;
  history::v1::WatchHistoryRequest request;
  ASSERT_TRUE(
      pbu::JsonStringToMessage(R"({"bookingId": "json-b", "fromStart": true})", &request).ok());
  WatchClient w(Target(), request);
  std::vector<std::string> lines;  // as grpcurl prints them
  for (int i = 0; i < 3; ++i) {
    std::optional<history::v1::WatchHistoryResponse> r = w.Next();
    ASSERT_TRUE(r.has_value()) << set_->Logs();
    ASSERT_TRUE(pbu::MessageToJsonString(*r, &lines.emplace_back()).ok());
  }
  EXPECT_FALSE(absl::StrContains(lines[0], "\"entry\"")) << lines[0];  // the first bookmark
  EXPECT_TRUE(absl::StrContains(lines[0], "\"resumeToken\"")) << lines[0];
  for (int s = 1; s <= 2; ++s) {
    history::v1::WatchHistoryResponse back;
    ASSERT_TRUE(pbu::JsonStringToMessage(lines[s], &back).ok()) << lines[s];
    EXPECT_EQ(back.entry().booking_id(), "json-b");
    EXPECT_EQ(back.entry().sequence(), s);
    EXPECT_TRUE(absl::StrContains(lines[s], R"("bookingId":"json-b")")) << lines[s];
  }
  // Resumed from the token of the first entry, as JSON again: the second.
  history::v1::WatchHistoryResponse seen;
  ASSERT_TRUE(pbu::JsonStringToMessage(lines[1], &seen).ok());
  history::v1::WatchHistoryRequest resume;
  ASSERT_TRUE(pbu::JsonStringToMessage(absl::StrCat(R"({"bookingId": "json-b", "resumeToken": ")",
                                                    seen.resume_token(), "\"}"),
                                       &resume)
                  .ok());
  auto resumed = OpenWatch(Target(), resume);
  EXPECT_EQ(Keys(resumed->Entries(1)), (std::vector<std::string>{"json-b:2"}));
}

TEST_F(WatchOrderTest, EntriesStoredThroughAnotherReplicaReachTheWatcher) {
  const std::string other = absl::StrCat("127.0.0.1:", FreePort());
  absl::StatusOr<Process> replica =
      Process::Spawn({HistoryServiceBin(), "--listen", other, "--database-url", set_->history_url(),
                      "--insecure-plaintext"},
                     {}, set_->log_dir() + "/history-2.log");
  ASSERT_TRUE(replica.ok()) << replica.status();
  ASSERT_TRUE(WaitServing(other, absl::Seconds(60)).ok())
      << ReadFile(set_->log_dir() + "/history-2.log");
  auto w = OpenWatch(Target(), {});
  IngestAll(other, Chain("replica", 1, 3, 500));
  EXPECT_EQ(Keys(w->Entries(3)), ExpectedKeys("replica", 1, 3));
}

// Four streams at once, each storing its own bookings a sequence at a time
// (one batch per sequence, 25 bookings a batch): every entry reaches a
// watcher from the start once, each booking's in sequence order, although
// the streams' transactions commit in any order and the feed's sequencer
// gives positions after commit.
TEST_F(WatchOrderTest, ConcurrentStreamsKeepEachBookingsOrder) {
  constexpr int kStreams = 4, kBookings = 25, kSequences = 8;
  history::v1::WatchHistoryRequest all;
  all.set_from_start(true);
  auto w = OpenWatch(Target(), all);
  std::vector<std::thread> streams;
  std::vector<absl::Status> results(kStreams);
  for (int t = 0; t < kStreams; ++t) {
    streams.emplace_back([&, t] {
      IngestClient c(Target());
      for (int s = 1; s <= kSequences; ++s) {
        std::vector<history::v1::StatusChangeEvent> batch;
        for (int b = 0; b < kBookings; ++b) {
          const int id = t * kBookings + b;
          for (auto& e : Chain(absl::StrCat("conc-", id), s, s, 100000 + id * 100)) {
            batch.push_back(std::move(e));
          }
        }
        absl::StatusOr<history::v1::IngestAck> ack = c.Send(batch);
        if (!ack.ok() || ack->stored() != kBookings) {
          results[t] = absl::InternalError(ack.ok() ? ack->DebugString() : ack.status().ToString());
          return;
        }
      }
    });
  }
  for (std::thread& t : streams) t.join();
  for (const absl::Status& r : results) ASSERT_TRUE(r.ok()) << r;
  std::map<std::string, std::vector<int64_t>> seen;  // booking -> sequences, as delivered
  int count = 0;
  while (count < kStreams * kBookings * kSequences) {
    std::vector<history::v1::HistoryEntry> e = w->Entries(1);
    ASSERT_FALSE(e.empty()) << "the watch ended after " << count << " entries\n" << set_->Logs();
    if (!absl::StartsWith(e[0].booking_id(), "conc-")) continue;
    seen[e[0].booking_id()].push_back(e[0].sequence());
    ++count;
  }
  ASSERT_EQ(seen.size(), static_cast<size_t>(kStreams * kBookings));
  const std::vector<int64_t> in_order = {1, 2, 3, 4, 5, 6, 7, 8};
  for (const auto& [booking, sequences] : seen) EXPECT_EQ(sequences, in_order) << booking;
}

// A row queued with no wake-up (as if the NOTIFY were lost, or its replica
// died before any sequencer heard it) gets its position from the
// sequencer's periodic look, and reaches a watcher of its booking.
TEST_F(WatchOrderTest, ARowQueuedWithoutAWakeUpIsStillSequenced) {
  const std::string url = set_->history_url();
  auto w = OpenWatch(Target(), [] {
    history::v1::WatchHistoryRequest r;
    r.set_booking_id("queued-quietly");
    r.set_from_start(true);
    return r;
  }());
  Exec(url, R"(WITH h AS (
                 INSERT INTO "BookingStatusHistory"
                   ("eventId", "bookingId", sequence, "fromStatus", "toStatus", "changedBy")
                 VALUES (gen_random_uuid(), 'queued-quietly', 1, NULL, 'PENDING_PAYMENT', 'x')
                 RETURNING id)
               INSERT INTO "BookingStatusHistoryFeedQueue" ("historyId") SELECT id FROM h)");
  EXPECT_EQ(Keys(w->Entries(1)), (std::vector<std::string>{"queued-quietly:1"}));
  EXPECT_EQ(QueryCount(url, R"(SELECT count(*) FROM "BookingStatusHistoryFeedQueue")"), 0);
}

// The queue's two forms (schema step 0013): rows queued one by one (by a
// history-service of before the step, or by hand) and a batch's rows in one
// queue row get positions in queue order, a batch's rows in its order; a
// queue row with both forms, neither, or an empty batch is refused.
TEST_F(WatchOrderTest, QueueRowsOfBothFormsAreSequencedInQueueOrder) {
  const std::string url = set_->history_url();
  auto w = OpenWatch(Target(), [] {
    history::v1::WatchHistoryRequest r;
    r.set_from_start(true);
    return r;
  }());
  auto row = [](const char* booking, int sequence) {
    return absl::StrCat(R"(INSERT INTO "BookingStatusHistory"
                   ("eventId", "bookingId", sequence, "fromStatus", "toStatus", "changedBy")
                 VALUES (gen_random_uuid(), ')",
                        booking, "', ", sequence,
                        R"(, NULL, 'PENDING_PAYMENT', 'x') RETURNING id)");
  };
  // One transaction: the sequencer sees the three queue rows at once.
  Exec(url, absl::StrCat("WITH a1 AS (", row("forms-a", 1), "), b1 AS (", row("forms-b", 1),
                         "), a2 AS (", row("forms-a", 2), "), b2 AS (", row("forms-b", 2), R"()
               INSERT INTO "BookingStatusHistoryFeedQueue" ("historyId", "historyIds")
               SELECT id, NULL FROM a1
               UNION ALL SELECT NULL, ARRAY[(SELECT id FROM b1), (SELECT id FROM a2)]
               UNION ALL SELECT id, NULL FROM b2)"));
  std::vector<std::string> keys;
  while (keys.size() < 4) {
    std::vector<history::v1::HistoryEntry> e = w->Entries(1);
    ASSERT_FALSE(e.empty()) << "the watch ended after " << keys.size() << " entries";
    if (absl::StartsWith(e[0].booking_id(), "forms-")) keys.push_back(Keys(e)[0]);
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"forms-a:1", "forms-b:1", "forms-a:2", "forms-b:2"}));
  for (const char* bad : {"gen_random_uuid(), ARRAY[gen_random_uuid()]", "NULL, NULL",
                          "NULL, ARRAY[]::uuid[]", "NULL, ARRAY[NULL::uuid]"}) {
    EXPECT_THROW(Exec(url, absl::StrCat(R"(INSERT INTO "BookingStatusHistoryFeedQueue"
                                            ("historyId", "historyIds") VALUES ()",
                                        bad, ")")),
                 std::exception)
        << bad;
  }
}

// Last: it turns the suite's store into one migrated from before the feed.
TEST_F(WatchOrderTest, RowsOlderThanTheFeedComeFirstFromTheStart) {
  const std::string url = set_->history_url();
  // Rows without a position (plain SQL takes none), as a store written
  // before schema step 0008 has.
  Exec(url, R"(INSERT INTO "BookingStatusHistory"
                 ("eventId", "bookingId", sequence, "fromStatus", "toStatus", "changedBy")
               VALUES (gen_random_uuid(), 'legacy-b', 1, NULL, 'PENDING_PAYMENT', 'old'),
                      (gen_random_uuid(), 'legacy-b', 2, 'PENDING_PAYMENT', 'CONFIRMED', 'old'),
                      (gen_random_uuid(), 'legacy-a', 1, NULL, 'PENDING_PAYMENT', 'old'))");
  Exec(url, R"(UPDATE "BookingStatusHistoryFeedStart" SET "legacyRows" = true)");
  IngestAll(Target(), Chain("legacy-a", 2, 3, 700));
  // The legacy rows by booking and sequence, then the positioned ones.
  auto legacy_keys = [](WatchClient& w, std::vector<std::string>* tokens) {
    std::vector<std::string> keys;
    while (keys.empty() || keys.back() != "legacy-a:3") {
      std::vector<history::v1::HistoryEntry> e = w.Entries(1);
      if (e.empty()) break;
      if (!absl::StartsWith(e[0].booking_id(), "legacy-")) continue;
      keys.push_back(Keys(e)[0]);
      if (tokens != nullptr) tokens->push_back(w.last_token());
    }
    return keys;
  };
  history::v1::WatchHistoryRequest all;
  all.set_from_start(true);
  auto w = OpenWatch(Target(), all);
  std::vector<std::string> tokens;
  EXPECT_EQ(legacy_keys(*w, &tokens),
            (std::vector<std::string>{"legacy-a:1", "legacy-b:1", "legacy-b:2", "legacy-a:2",
                                      "legacy-a:3"}));
  ASSERT_GE(tokens.size(), 2u);
  // Resumed from inside the legacy rows: the rest, once.
  auto resumed = OpenWatch(Target(), ResumeFrom(tokens[1]));
  EXPECT_EQ(legacy_keys(*resumed, nullptr),
            (std::vector<std::string>{"legacy-b:2", "legacy-a:2", "legacy-a:3"}));
}

}  // namespace
}  // namespace booking::testing
