// Changes made outside booking-service keep history's chain: during the
// status migration's compatibility window old code writes statuses with plain
// SQL under its own role; the capture trigger migrator expand installs bumps
// the version and writes the outbox event, and history (which stores only a
// booking's next sequence, from the previous to-status) accepts each one.
// Every such write appears in history, named by role and application, and
// every booking's chain holds through them and booking-service's own changes.
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "booking/v1/booking.grpc.pb.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "tests/support/fixtures.h"
#include "tests/support/grpc_client.h"
#include "tests/support/pg_suite.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"

namespace booking::testing {
namespace {

class HistoryCaptureTest : public PgSuite {};

// The old application: a role of its own, plain SQL, old labels. Moves
// every third booking to CONFIRMED, then (after booking-service cancels it
// where it may) to IN_WORKSHOP; counts the writes that changed a row and the
// IN_WORKSHOP ones.
void WriteAsOldCode(const ServiceSet& s, int* sql_writes, int* workshop_writes) {
  Exec(s.booking_url(), R"(CREATE ROLE legacy_app LOGIN;
                           GRANT SELECT, UPDATE ON "Booking" TO legacy_app)");
  const std::string legacy =
      absl::StrCat(absl::StrReplaceAll(s.booking_url(), {{"postgres@", "legacy_app@"}}),
                   "?application_name=legacy-orders");
  auto stub = booking::v1::BookingService::NewStub(
      grpc::CreateChannel(s.booking_target(), grpc::InsecureChannelCredentials()));
  pqxx::connection legacy_conn(legacy);
  // A plain-SQL status write of the old application; counts it when it
  // changed the row.
  auto write = [&](const std::string& sql) {
    pqxx::work txn(legacy_conn);
    *sql_writes += static_cast<int>(txn.exec(sql).affected_rows());
    txn.commit();
  };
  for (int i = 1; i <= 40; i += 3) {
    const std::string id = absl::StrCat("bk-", std::string(8 - std::to_string(i).size(), '0'), i);
    // Old code moves it (whatever it holds) to CONFIRMED then CANCELLED, with
    // booking-service cancelling in between where it may.
    write(absl::StrCat(R"(UPDATE "Booking" SET status = 'CONFIRMED' WHERE id = ')", id,
                       "' AND status <> 'CONFIRMED'"));
    booking::v1::ChangeStatusRequest change;
    change.set_booking_id(id);
    change.set_target_status(booking::v1::CANCELLED);
    booking::v1::ChangeStatusResponse response;
    ASSERT_TRUE(stub->ChangeStatus(AuthedContext(ServiceSet::kToken).get(), change, &response).ok())
        << id;
    write(absl::StrCat(R"(UPDATE "Booking" SET status = 'IN_WORKSHOP' WHERE id = ')", id, "'"));
    ++*workshop_writes;
  }
}

// Every booking's chain: sequences 1..n, each from-status the previous
// to-status, ending at the booking's version.
void ExpectEveryChainHolds(const ServiceSet& s) {
  std::map<std::string, int64_t> versions;
  for (absl::string_view line :
       absl::StrSplit(QueryText(s.booking_url(), R"(SELECT id, version FROM "Booking"
                                                    WHERE version > 0 ORDER BY id)"),
                      '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, '|');
    versions[f[0]] = std::stoll(f[1]);
  }
  EXPECT_EQ(versions.size(), 14u);
  EXPECT_EQ(QueryCount(s.history_url(), R"(
      SELECT count(*) FROM (
        SELECT sequence, lag(sequence) OVER w AS prev_seq, "fromStatus",
               lag("toStatus") OVER w AS prev_to
        FROM "BookingStatusHistory" WINDOW w AS (PARTITION BY "bookingId" ORDER BY sequence)) x
      WHERE (prev_seq IS NULL AND sequence <> 1)
         OR (prev_seq IS NOT NULL AND (sequence <> prev_seq + 1
                                       OR "fromStatus" IS DISTINCT FROM prev_to)))"),
            0);
  for (const auto& [id, version] : versions) {
    EXPECT_EQ(
        QueryCount(s.history_url(), absl::StrCat(R"(SELECT max(sequence) FROM "BookingStatusHistory"
                                         WHERE "bookingId" = ')",
                                                 id, "'")),
        version)
        << id;
  }
}

TEST_F(HistoryCaptureTest, OldCodeSqlWritesEachReachHistoryAndEveryChainHolds) {
  auto set = ServiceSet::CreateSeeded(*pg_, "capture", FixturePath("prisma_booking_store.sql"),
                                      {"rows=40"});
  ASSERT_TRUE(set.ok()) << set.status();
  ServiceSet& s = **set;
  MigratorRun expand = RunMigrator(*pg_, s.booking_url(), s.history_url(), {"expand"});
  ASSERT_EQ(expand.exit_code, 0) << expand.output;
  ASSERT_TRUE(s.StartHistory().ok()) << s.Logs();
  ASSERT_TRUE(s.StartBooking().ok()) << s.Logs();

  int sql_writes = 0, workshop_writes = 0;
  ASSERT_NO_FATAL_FAILURE(WriteAsOldCode(s, &sql_writes, &workshop_writes));
  ASSERT_TRUE(WaitForCount(s.booking_url(), R"(SELECT count(*) FROM "BookingOutbox")", 0,
                           absl::Seconds(60)))
      << s.Logs();
  // Each plain-SQL write is in history, named by its role and application.
  EXPECT_EQ(QueryCount(s.history_url(), R"(SELECT count(*) FROM "BookingStatusHistory"
                                           WHERE "changedBy" LIKE 'legacy_app via legacy-orders%')"),
            sql_writes);
  EXPECT_EQ(QueryCount(s.history_url(), R"(SELECT count(*) FROM "BookingStatusHistory"
                                           WHERE "changedBy" LIKE 'legacy_app via legacy-orders%'
                                             AND "toStatus" = 'AT_WORKSHOP')"),
            workshop_writes);
  // Nothing held back, nothing set aside.
  EXPECT_EQ(QueryCount(s.history_url(), R"(SELECT count(*) FROM "BookingStatusHeldBack")"), 0);
  EXPECT_EQ(QueryCount(s.booking_url(), R"(SELECT count(*) FROM "BookingOutboxRejected")"), 0);
  ExpectEveryChainHolds(s);
}

}  // namespace
}  // namespace booking::testing
