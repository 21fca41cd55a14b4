// History's global keys (schema step 0014): every stored event id once in
// "BookingStatusHistoryEvent" and each booking's head in
// "BookingStatusHistoryHead", kept by a trigger whoever inserts, refusing
// what the history table's unique indexes refuse today (they hold within a
// partition only once the table is partitioned by time), immutable like the
// rows; and ingest over a store with rows from before the step (no keys):
// a redelivered old event is a duplicate, the next one chains to the old
// head. The feed's and the log's references keep each row's time beside its
// id (so a join by id can be pruned to the row's partition), filled by a
// trigger for a writer that gives none; references of before the step
// still reach their rows. Real PostgreSQL, the real history-service.
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "tests/support/history_calls.h"
#include "tests/support/history_suite.h"
#include "tests/support/ingest_client.h"
#include "tests/support/sql.h"
#include "tests/support/wait.h"
#include "tests/support/watch_client.h"

namespace booking::testing {
namespace {

constexpr char kPrefix[] = "historykeys";

class HistoryKeysTest : public HistorySuite<kPrefix> {
 protected:
  // The error `sql` fails with ("" when it succeeds).
  static std::string Refusal(const std::string& sql) {
    try {
      Exec(Url(), sql);
    } catch (const pqxx::sql_error& e) {
      return e.what();
    }
    return "";
  }

  static void WaitForLeaves() { ASSERT_TRUE(WaitForEveryLeaf(Url())) << set_->Logs(); }

  // The booking's entries a watch from the start gives (its own rows only).
  static std::vector<std::string> Watched(const std::string& booking, int rows) {
    history::v1::WatchHistoryRequest request;
    request.set_from_start(true);
    request.set_booking_id(booking);
    auto w = OpenWatch(Target(), request);
    std::vector<std::string> keys;
    for (int i = 0; i < rows; ++i) {
      std::vector<history::v1::HistoryEntry> e = w->Entries(1);
      if (e.empty()) break;
      keys.push_back(Keys(e)[0]);
    }
    return keys;
  }

  inline static std::unique_ptr<ServiceSet> set_;
};

TEST_F(HistoryKeysTest, EveryStoredRowHasItsKeys) {
  IngestAll(Target(), Chain("keys-a", 1, 3, 100));
  IngestAll(Target(), Chain("keys-a", 4, 5, 100));
  IngestAll(Target(), Chain("keys-b", 1, 1, 200));
  // Each event id, with its row's recorded time.
  EXPECT_EQ(QueryCount(Url(), R"(SELECT count(*) FROM "BookingStatusHistory" h
                                 JOIN "BookingStatusHistoryEvent" USING ("eventId", "recordedAt")
                                 WHERE h."bookingId" IN ('keys-a', 'keys-b'))"),
            6);
  // Each head is its booking's last row; its first time is its first row's.
  EXPECT_EQ(QueryText(Url(), R"(SELECT hd."bookingId", hd.sequence, hd."toStatus",
                                       hd."rowHash" = last."rowHash",
                                       hd."lastRecordedAt" = last."recordedAt",
                                       hd."firstRecordedAt" = first."recordedAt"
                                FROM "BookingStatusHistoryHead" hd
                                JOIN "BookingStatusHistory" last
                                  ON last."bookingId" = hd."bookingId"
                                 AND last.sequence = hd.sequence
                                JOIN "BookingStatusHistory" first
                                  ON first."bookingId" = hd."bookingId" AND first.sequence = 1
                                WHERE hd."bookingId" IN ('keys-a', 'keys-b')
                                ORDER BY 1)"),
            absl::StrCat("keys-a|5|", ChainLabel(5), "|t|t|t|\n", "keys-b|1|", ChainLabel(1),
                         "|t|t|t|\n"));
}

TEST_F(HistoryKeysTest, TheFeedAndTheLogKeepEachRowsTimeBesideItsId) {
  IngestAll(Target(), Chain("keys-t", 1, 4, 600));
  // A row queued as a history-service of before the step queues it: its id
  // alone; the feed's trigger gives it its time.
  Exec(Url(), absl::StrCat(R"(WITH r AS (
        INSERT INTO "BookingStatusHistory"
          ("eventId", "bookingId", sequence, "fromStatus", "toStatus", "changedBy")
        VALUES (')",
                           EventId(700), R"(', 'keys-q', 1, NULL, 'PENDING_PAYMENT', 'old')
        RETURNING id)
      INSERT INTO "BookingStatusHistoryFeedQueue" ("historyIds") SELECT array_agg(id) FROM r)"));
  WaitForLeaves();
  for (const char* table : {"BookingStatusHistoryFeed", "BookingStatusHistoryLeaf"}) {
    EXPECT_EQ(
        QueryText(Url(),
                  absl::StrCat(R"(SELECT h."bookingId", count(*),
                                                   count(*) FILTER (WHERE r."recordedAt" = h."recordedAt")
                                            FROM ")",
                               table, R"(" r JOIN "BookingStatusHistory" h ON h.id = r."historyId"
                                            WHERE h."bookingId" IN ('keys-t', 'keys-q')
                                            GROUP BY 1 ORDER BY 1)")),
        "keys-q|1|1|\nkeys-t|4|4|\n")
        << table;
  }
}

TEST_F(HistoryKeysTest, KeysRefuseAReusedEventIdABackwardHeadAndAnyRemoval) {
  IngestAll(Target(), Chain("keys-c", 1, 3, 300));
  // An event id stored again: refused by its key alone.
  EXPECT_NE(Refusal(absl::StrCat(R"(INSERT INTO "BookingStatusHistoryEvent" VALUES (')",
                                 EventId(301), R"(', now()))")),
            "");
  // A head set back (as a second row at a stored sequence would).
  const std::string backward = Refusal(
      R"(INSERT INTO "BookingStatusHistoryHead"
           ("bookingId", sequence, "toStatus", "firstRecordedAt", "lastRecordedAt")
         VALUES ('keys-c', 2, 'X', now(), now())
         ON CONFLICT ("bookingId") DO UPDATE SET sequence = EXCLUDED.sequence)");
  EXPECT_NE(backward.find("booking keys-c already holds sequence 2 in history (its head is 3)"),
            std::string::npos)
      << backward;
  // The keys outlive any attempt to remove them, as the rows do.
  for (const char* sql :
       {R"(DELETE FROM "BookingStatusHistoryEvent")",
        R"(UPDATE "BookingStatusHistoryEvent" SET "recordedAt" = now())",
        R"(TRUNCATE "BookingStatusHistoryEvent")", R"(DELETE FROM "BookingStatusHistoryHead")",
        R"(TRUNCATE "BookingStatusHistoryHead")",
        R"(UPDATE "BookingStatusHistoryKeysStart" SET "legacyUntil" = NULL)",
        R"(DELETE FROM "BookingStatusHistoryKeysStart")"}) {
    EXPECT_NE(Refusal(sql).find("keeps history's keys"), std::string::npos) << sql;
  }
  EXPECT_EQ(QueryValue(Url(), R"(SELECT sequence FROM "BookingStatusHistoryHead"
                                 WHERE "bookingId" = 'keys-c')"),
            "3");
}

// Last: it turns the suite's store into one with rows from before step 0014.
TEST_F(HistoryKeysTest, RowsFromBeforeTheKeysAreFoundWithoutThem) {
  IngestAll(Target(), Chain("keys-old", 1, 2, 400));
  WaitForLeaves();
  // As a store written before the step: no keys for these rows, and the
  // step's bound on when such rows were recorded (a superuser sets the
  // triggers aside to make it so).
  Exec(Url(), R"(ALTER TABLE "BookingStatusHistoryEvent" DISABLE TRIGGER USER;
                 ALTER TABLE "BookingStatusHistoryHead" DISABLE TRIGGER USER;
                 ALTER TABLE "BookingStatusHistoryKeysStart" DISABLE TRIGGER USER;
                 DELETE FROM "BookingStatusHistoryEvent" e USING "BookingStatusHistory" h
                   WHERE h."eventId" = e."eventId" AND h."bookingId" = 'keys-old';
                 DELETE FROM "BookingStatusHistoryHead" WHERE "bookingId" = 'keys-old';
                 ALTER TABLE "BookingStatusHistoryLeaf" DISABLE TRIGGER USER;
                 UPDATE "BookingStatusHistoryLeaf" SET "recordedAt" = NULL
                   WHERE "bookingId" = 'keys-old';
                 ALTER TABLE "BookingStatusHistoryLeaf" ENABLE TRIGGER USER;
                 UPDATE "BookingStatusHistoryFeed" f SET "recordedAt" = NULL
                   FROM "BookingStatusHistory" h
                   WHERE h.id = f."historyId" AND h."bookingId" = 'keys-old';
                 UPDATE "BookingStatusHistoryKeysStart"
                   SET "legacyUntil" = timezone('UTC', clock_timestamp());
                 ALTER TABLE "BookingStatusHistoryEvent" ENABLE TRIGGER USER;
                 ALTER TABLE "BookingStatusHistoryHead" ENABLE TRIGGER USER;
                 ALTER TABLE "BookingStatusHistoryKeysStart" ENABLE TRIGGER USER;)");
  {  // An old event delivered again: a duplicate, not a second row.
    IngestClient client(Target());
    absl::StatusOr<history::v1::IngestAck> ack = client.Send(Chain("keys-old", 2, 2, 400));
    ASSERT_TRUE(ack.ok()) << ack.status();
    EXPECT_EQ(ack->duplicates(), 1) << ack->DebugString();
    EXPECT_EQ(ack->stored(), 0) << ack->DebugString();
  }
  // The next event follows the old head: stored, chained to it, and the
  // booking has keys from then on.
  IngestAll(Target(), Chain("keys-old", 3, 3, 400));
  EXPECT_EQ(QueryText(Url(), R"(SELECT h.sequence,
                                       h."rowHash" = sha256(p."rowHash" ||
                                                            "BookingStatusHistory_canonical"(h))
                                FROM "BookingStatusHistory" h
                                JOIN "BookingStatusHistory" p
                                  ON p."bookingId" = h."bookingId" AND p.sequence = h.sequence - 1
                                WHERE h."bookingId" = 'keys-old' ORDER BY 1)"),
            "2|t|\n3|t|\n");
  EXPECT_EQ(QueryValue(Url(), R"(SELECT sequence FROM "BookingStatusHistoryHead"
                                 WHERE "bookingId" = 'keys-old')"),
            "3");
  // The feed's and the log's references of before the step (no time) still
  // reach their rows: the watch gives them, the log holds them.
  WaitForLeaves();
  EXPECT_EQ(Watched("keys-old", 3), ExpectedKeys("keys-old", 1, 3));
  const history::v1::VerifyHistoryResponse verified = VerifyHistoryOf(Target(), "keys-old");
  EXPECT_TRUE(verified.verified()) << verified.problem();
  EXPECT_EQ(verified.rows_size(), 3);
  // A booking of after the step keeps being found by its keys alone.
  IngestAll(Target(), Chain("keys-new", 1, 1, 500));
  IngestAll(Target(), Chain("keys-new", 2, 2, 500));
  EXPECT_EQ(QueryValue(Url(), R"(SELECT sequence FROM "BookingStatusHistoryHead"
                                 WHERE "bookingId" = 'keys-new')"),
            "2");
}

}  // namespace
}  // namespace booking::testing
