// `migrator partition-history`: "BookingStatusHistory" partitioned by month
// of "recordedAt" under a steady ingest (every acknowledged event stored
// once), the table as it was kept as the first partition, history carrying
// on across partitions (chains, duplicates, the feed, VerifyHistory,
// immutability of every partition); refused with nothing changed when the
// table has a dependent it does not know; a run stopped after any phase
// finished by the next. Real PostgreSQL, the real migrator and
// history-service.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "tests/support/history_calls.h"
#include "tests/support/ingest_client.h"
#include "tests/support/pg_suite.h"
#include "tests/support/process.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"
#include "tests/support/wait.h"
#include "tests/support/watch_client.h"

namespace booking::testing {
namespace {

struct MigratorRun {
  int code = -1;
  std::string out;
};

class HistoryPartitionTest : public PgSuite {
 public:
  static MigratorRun Partition(const std::string& url, const std::string& log,
                               const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {MigratorBin(), "partition-history", "--history-database-url",
                                     url};
    argv.insert(argv.end(), extra.begin(), extra.end());
    absl::StatusOr<int> rc = RunCommand(argv, {}, log);
    return {rc.ok() ? *rc : -1, ReadFile(log)};
  }

  static std::string Shape(const std::string& url) {
    return QueryText(url, R"(SELECT relkind, (SELECT count(*) FROM pg_constraint
                               WHERE conname = 'BookingStatusHistory_before_bound')
                             FROM pg_class WHERE oid = '"BookingStatusHistory"'::regclass)");
  }

  static std::string Refusal(const std::string& url, const std::string& sql) {
    try {
      Exec(url, sql);
    } catch (const pqxx::sql_error& e) {
      return e.what();
    }
    return "";
  }

 protected:
  void SetUp() override {
    PgSuite::SetUp();
    ASSERT_NE(pg_, nullptr);
  }
};

// Ingests booking "live-<n>"'s events one batch each until `stop`; counts
// the events acknowledged stored; the first failure, if any.
absl::Status IngestUntil(const std::string& target, const std::atomic<bool>& stop,
                         std::atomic<int64_t>& stored) {
  IngestClient client(target);
  for (int64_t i = 0; !stop.load(); ++i) {
    absl::StatusOr<history::v1::IngestAck> ack =
        client.Send(Chain(absl::StrCat("live-", i % 10), i / 10 + 1, i / 10 + 1, 10000 + i * 10));
    if (!ack.ok()) return ack.status();
    if (ack->stored() != 1) return absl::InternalError(ack->DebugString());
    stored += ack->stored();
  }
  return absl::OkStatus();
}

// Partitions the store while a writer ingests; every acknowledged event
// stored once, every row where it was (the old table).
void ConvertUnderIngest(const ServiceSet& set) {
  const std::string url = set.history_url();
  std::atomic<bool> stop{false};
  std::atomic<int64_t> stored{0};
  absl::Status writing;
  std::thread writer([&] { writing = IngestUntil(set.history_target(), stop, stored); });
  const MigratorRun run = HistoryPartitionTest::Partition(url, set.log_dir() + "/partition.out");
  stop = true;
  writer.join();
  EXPECT_TRUE(writing.ok()) << writing;
  ASSERT_EQ(run.code, 0) << run.out;
  EXPECT_TRUE(absl::StrContains(run.out, "held ACCESS EXCLUSIVE")) << run.out;
  EXPECT_GT(stored.load(), 0);
  EXPECT_EQ(QueryCount(url, R"(SELECT count(*) FROM "BookingStatusHistory"
                               WHERE "bookingId" LIKE 'live-%')"),
            stored.load());
  EXPECT_EQ(QueryText(url, R"(SELECT DISTINCT tableoid::regclass FROM "BookingStatusHistory")"),
            "\"BookingStatusHistory_before\"|\n");
  EXPECT_EQ(HistoryPartitionTest::Shape(url), "p|1|\n");
  // The first partition, then one a month through three months past now.
  EXPECT_GE(QueryCount(url, R"(SELECT count(*) FROM pg_inherits
                               WHERE inhparent = '"BookingStatusHistory"'::regclass)"),
            3);
}

// Stores part-2's 4th event as recorded a day into the first monthly
// partition (written as history-service would: its hash chained, queued for
// the feed with its time); the partition it went to.
std::string StoreInALaterMonth(const std::string& url) {
  Exec(url, absl::StrCat(R"(
      WITH prev AS (SELECT "rowHash" FROM "BookingStatusHistory"
                    WHERE "bookingId" = 'part-2' AND sequence = 3),
           r AS (SELECT ROW(gen_random_uuid(), ')",
                         EventId(204), R"('::uuid, 'part-2', 4, ')", ChainLabel(3), "', '",
                         ChainLabel(4), R"(', 'consistency-test', NULL, NULL,
                   '2023-11-14 22:13:24'::timestamp(3),
                   (SELECT (regexp_match(pg_get_expr(relpartbound, oid),
                      'TO \(''([^'']+)''\)'))[1]::timestamp + interval '1 day'
                    FROM pg_class WHERE oid = '"BookingStatusHistory_before"'::regclass),
                   NULL::bytea, NULL)::"BookingStatusHistory" AS h),
           ins AS (INSERT INTO "BookingStatusHistory"
             SELECT (r.h).id, (r.h)."eventId", (r.h)."bookingId", (r.h).sequence,
                    (r.h)."fromStatus", (r.h)."toStatus", (r.h)."changedBy", (r.h).reason,
                    (r.h).metadata, (r.h)."createdAt", (r.h)."recordedAt",
                    sha256(prev."rowHash" || "BookingStatusHistory_canonical"(r.h)), NULL
             FROM r, prev RETURNING id, "recordedAt")
      INSERT INTO "BookingStatusHistoryFeedQueue" ("historyIds", "recordedAts")
      SELECT array_agg(id), array_agg("recordedAt") FROM ins)"));
  return QueryValue(url, R"(SELECT tableoid::regclass::text FROM "BookingStatusHistory"
                            WHERE "bookingId" = 'part-2' AND sequence = 4)");
}

// Every partition append-only, whatever the way in.
void ExpectAppendOnly(const std::string& url, const std::string& later) {
  for (const std::string& sql :
       {std::string(R"(UPDATE "BookingStatusHistory" SET reason = 'x')"),
        absl::StrCat("DELETE FROM ", later), absl::StrCat("TRUNCATE ", later),
        std::string(R"(TRUNCATE "BookingStatusHistory_before")"),
        std::string(R"(TRUNCATE "BookingStatusHistory")")}) {
    EXPECT_TRUE(absl::StrContains(HistoryPartitionTest::Refusal(url, sql), "append-only")) << sql;
  }
}

// The store still migrates and serves: `up` finds nothing to do, a
// restarted history-service takes it, the whole store verifies once the
// log took in every row, a second run only checks.
void ExpectStillServed(ServiceSet& set) {
  const std::string url = set.history_url();
  absl::StatusOr<int> up =
      RunCommand({MigratorBin(), "up", "--store", "history", "--history-database-url", url}, {},
                 set.log_dir() + "/up-after.out");
  EXPECT_TRUE(up.ok() && *up == 0) << ReadFile(set.log_dir() + "/up-after.out");
  ASSERT_TRUE(set.StopHistory(SIGTERM).ok());
  ASSERT_TRUE(set.StartHistory().ok()) << set.Logs();
  IngestAll(set.history_target(), Chain("part-3", 4, 4, 300));
  ASSERT_TRUE(WaitForEveryLeaf(url)) << set.Logs();
  const std::string verify_log = set.log_dir() + "/verify.out";
  absl::StatusOr<int> verified =
      RunCommand({HISTORY_VERIFY_BIN, "verify", "--database-url", url}, {}, verify_log);
  EXPECT_TRUE(verified.ok() && *verified == 0) << ReadFile(verify_log);
  const MigratorRun again =
      HistoryPartitionTest::Partition(url, set.log_dir() + "/partition-again.out");
  EXPECT_EQ(again.code, 0) << again.out;
  EXPECT_TRUE(absl::StrContains(again.out, "0 partition(s) created")) << again.out;
}

TEST_F(HistoryPartitionTest, ConvertsUnderIngestAndHistoryCarriesOnAcrossPartitions) {
  auto set = ServiceSet::Create(*pg_, "partconv");
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_TRUE((*set)->StartHistory().ok()) << (*set)->Logs();
  const std::string url = (*set)->history_url(), target = (*set)->history_target();
  for (int b = 1; b <= 3; ++b) IngestAll(target, Chain(absl::StrCat("part-", b), 1, 3, b * 100));
  ConvertUnderIngest(**set);
  // History carries on: chains continue, an old event again is a duplicate.
  IngestAll(target, Chain("part-1", 4, 5, 100));
  {
    IngestClient again(target);
    absl::StatusOr<history::v1::IngestAck> ack = again.Send(Chain("part-1", 2, 2, 100));
    ASSERT_TRUE(ack.ok()) << ack.status();
    EXPECT_EQ(ack->duplicates(), 1) << ack->DebugString();
  }
  // Across partitions: the next event chains to a row of a later month;
  // the booking verifies and its watch gives every entry.
  const std::string later = StoreInALaterMonth(url);
  EXPECT_NE(later, "\"BookingStatusHistory_before\"");
  EXPECT_TRUE(absl::StartsWith(later, "\"BookingStatusHistory_y")) << later;
  IngestAll(target, Chain("part-2", 5, 5, 200));
  const history::v1::VerifyHistoryResponse verified = VerifyHistoryOf(target, "part-2");
  EXPECT_TRUE(verified.verified()) << verified.problem();
  EXPECT_EQ(verified.rows_size(), 5);
  history::v1::WatchHistoryRequest watch;
  watch.set_from_start(true);
  watch.set_booking_id("part-2");
  auto w = OpenWatch(target, watch);
  EXPECT_EQ(Keys(w->Entries(5)), ExpectedKeys("part-2", 1, 5));
  ExpectAppendOnly(url, later);
  ExpectStillServed(**set);
}

TEST_F(HistoryPartitionTest, RefusesWhatItDoesNotKnowWithNothingChanged) {
  auto set = ServiceSet::Create(*pg_, "partrefuse");
  ASSERT_TRUE(set.ok()) << set.status();
  const std::string url = (*set)->history_url();
  Exec(url, R"(CREATE VIEW recent AS SELECT * FROM "BookingStatusHistory";
               CREATE INDEX mine ON "BookingStatusHistory" (reason);
               CREATE FUNCTION takes_row(h "BookingStatusHistory") RETURNS text
                 LANGUAGE sql AS 'SELECT h.reason';
               DROP INDEX "BookingStatusHistory_toStatus_idx";
               CREATE INDEX "BookingStatusHistory_toStatus_idx"
                 ON "BookingStatusHistory" ("toStatus", reason);)");
  const MigratorRun run = Partition(url, (*set)->log_dir() + "/refused.out");
  EXPECT_EQ(run.code, 6) << run.out;
  for (const char* named :
       {"view recent", "index mine", "function takes_row",
        R"(index BookingStatusHistory_toStatus_idx is btree ("toStatus", reason))",
        "nothing was changed"}) {
    EXPECT_TRUE(absl::StrContains(run.out, named)) << named << "\n" << run.out;
  }
  EXPECT_EQ(Shape(url), "r|0|\n");
  // Mended, with the table owned by a role of its own: the partitioned
  // table and every partition get that owner.
  Exec(url, R"(DROP VIEW recent; DROP INDEX mine; DROP FUNCTION takes_row;
               DROP INDEX "BookingStatusHistory_toStatus_idx";
               CREATE INDEX "BookingStatusHistory_toStatus_idx"
                 ON "BookingStatusHistory" ("toStatus");
               CREATE ROLE history_owner;
               ALTER TABLE "BookingStatusHistory" OWNER TO history_owner;)");
  const MigratorRun fixed = Partition(url, (*set)->log_dir() + "/fixed.out");
  EXPECT_EQ(fixed.code, 0) << fixed.out;
  EXPECT_EQ(Shape(url), "p|1|\n");
  EXPECT_EQ(QueryText(url, R"(SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class
                              WHERE oid = '"BookingStatusHistory"'::regclass
                                 OR oid IN (SELECT inhrelid FROM pg_inherits
                                            WHERE inhparent = '"BookingStatusHistory"'::regclass))"),
            "history_owner|\n");
}

// Each phase commits on its own: a run killed after the CHECK was added
// (not validated), or one whose CHECK's bound came too near while nobody
// ran it again, is finished by the next run.
TEST_F(HistoryPartitionTest, ARunStoppedAfterAnyPhaseIsFinishedByTheNext) {
  for (const char* bound : {"date_trunc('month', timezone('UTC', now())) + interval '2 months'",
                            "timezone('UTC', now()) + interval '2 days'"}) {
    auto set = ServiceSet::Create(*pg_, absl::StrCat("partresume", bound[0] == 'd' ? 1 : 2));
    ASSERT_TRUE(set.ok()) << set.status();
    ASSERT_TRUE((*set)->StartHistory().ok()) << (*set)->Logs();
    const std::string url = (*set)->history_url();
    IngestAll((*set)->history_target(), Chain("resume", 1, 3, 100));
    Exec(url, absl::StrCat(R"(DO $$ BEGIN EXECUTE format(
        'ALTER TABLE "BookingStatusHistory" ADD CONSTRAINT "BookingStatusHistory_before_bound"
           CHECK ("recordedAt" < %L::timestamp) NOT VALID', ()",
                           bound, R"()::timestamp(0)); END $$)"));
    const MigratorRun run = Partition(url, (*set)->log_dir() + "/resume.out");
    EXPECT_EQ(run.code, 0) << bound << "\n" << run.out;
    EXPECT_EQ(Shape(url), "p|1|\n") << bound;
    EXPECT_EQ(QueryCount(url, R"(SELECT count(*) FROM "BookingStatusHistory_before"
                                 WHERE "recordedAt" >= timezone('UTC', now()) + interval '1 month')"),
              0);
    EXPECT_TRUE(QueryValue(url, R"(SELECT (regexp_match(pg_get_expr(relpartbound, oid),
                                     'TO \(''([^'']+)''\)'))[1]::timestamp
                                     > timezone('UTC', now()) + interval '1 month'
                                   FROM pg_class
                                   WHERE oid = '"BookingStatusHistory_before"'::regclass)") == "t")
        << bound << "\n"
        << run.out;
    IngestAll((*set)->history_target(), Chain("resume", 4, 4, 100));
  }
}

}  // namespace
}  // namespace booking::testing
