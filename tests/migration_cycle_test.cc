// The whole change on a production-shaped store (partial indexes naming old
// labels, views, a view over a view, another table and another column of the
// type, a default): expand -> backfill -> verify -> contract, then rollback
// after rollback back to the original state, row for row; and bookings moved
// on through booking-service between backfill and rollback keep their
// progress, with every change in history.
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "booking/v1/booking.grpc.pb.h"
#include "gtest/gtest.h"
#include "history/v1/history.grpc.pb.h"
#include "tests/support/fixtures.h"
#include "tests/support/grpc_client.h"
#include "tests/support/kill_steps.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/pg_suite.h"
#include "tests/support/process.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"

namespace booking::testing {
namespace {

constexpr char kRule[] = R"("workStartedAt" IS NOT NULL)";
constexpr char kRows[] = "rows=1500";

// Everything a rollback must give back: every application column of every
// row, in both tables.
constexpr char kRowsSql[] = R"(
  SELECT md5(string_agg(concat_ws('|', id, "customerId", status, "previousStatus", "totalPrice",
                                  "workStartedAt", "createdAt", "updatedAt"), ',' ORDER BY id))
  FROM "Booking")";
constexpr char kTaskRowsSql[] = R"(
  SELECT md5(string_agg(concat_ws('|', id, "bookingId", "forStatus"), ',' ORDER BY id))
  FROM "DriverTask")";
constexpr char kLabelsSql[] = R"(
  SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum
  WHERE enumtypid = '"BookingStatus"'::regtype)";

class MigrationCycleTest : public PgSuite {
 protected:
  static void SetUpTestSuite() {
    PgSuite::SetUpTestSuite();
    Exec(pg_->Url("postgres"), "CREATE ROLE reporting");
  }

  void Load(const std::string& name) {
    booking_ = *pg_->CreateDatabase(name);
    history_ = *pg_->CreateDatabase(name + "_history");
    PsqlRun load = RunPsqlFile(*pg_, booking_, FixturePath("prisma_booking_store.sql"), {kRows});
    ASSERT_EQ(load.exit_code, 0) << load.output;
    Exec(booking_, R"(GRANT SELECT ON "ActiveBooking", "WorkshopQueue" TO reporting)");
    Migrate({"up"});
  }

  void Migrate(std::vector<std::string> args, int expected_exit = 0) {
    MigratorRun run = RunMigrator(*pg_, booking_, history_, args);
    ASSERT_EQ(run.exit_code, expected_exit) << absl::StrJoin(args, " ") << ":\n" << run.output;
    last_output_ = run.output;
  }

  std::string Q(const std::string& sql) { return QueryValue(booking_, sql); }

  // A booking's history entries, in order.
  std::string HistoryOf(const std::string& id) {
    return QueryText(history_, absl::StrCat(R"(SELECT sequence, "fromStatus", "toStatus",
                                               "changedBy", reason FROM "BookingStatusHistory"
                                               WHERE "bookingId" = ')",
                                            id, "' ORDER BY sequence"));
  }

  // After contract: only the new labels; every dependent object carried over
  // and translated; the table (`relfilenode`) never rewritten.
  void ExpectContracted(const std::string& relfilenode) {
    EXPECT_EQ(Q(kLabelsSql),
              "PENDING_PAYMENT,CONFIRMED,PICKUP_ASSIGNED,PICKED_UP,AT_WORKSHOP,IN_SERVICE,"
              "READY_FOR_RETURN,RETURN_ASSIGNED,RETURNED,DELIVERED,CANCELLED");
    EXPECT_EQ(
        Q(R"(SELECT pg_get_expr(indpred, indrelid) FROM pg_index
                   WHERE indexrelid = '"Booking_workshop_idx"'::regclass)"),
        R"((status = ANY (ARRAY['AT_WORKSHOP'::"BookingStatus", 'IN_SERVICE'::"BookingStatus"])))");
    EXPECT_EQ(
        Q(R"(SELECT pg_get_expr(indpred, indrelid) FROM pg_index
                   WHERE indexrelid = '"Booking_in_transit_idx"'::regclass)"),
        R"((status = ANY (ARRAY['PICKED_UP'::"BookingStatus", 'RETURN_ASSIGNED'::"BookingStatus", 'RETURNED'::"BookingStatus"])))");
    EXPECT_EQ(Q(R"(SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                   WHERE i.indrelid = '"Booking"'::regclass AND i.indisvalid)"),
              "6");
    EXPECT_EQ(Q(R"(SELECT count(*) FROM "WorkshopQueue")"),
              Q(R"(SELECT count(*) FROM "Booking" WHERE status IN ('AT_WORKSHOP', 'IN_SERVICE'))"));
    EXPECT_EQ(
        Q(R"(SELECT n FROM "ActiveBookingCount")"),
        Q(R"(SELECT count(*) FROM "Booking" WHERE status NOT IN ('DELIVERED', 'CANCELLED'))"));
    EXPECT_EQ(Q(R"(SELECT has_table_privilege('reporting', '"WorkshopQueue"', 'SELECT'))"), "t");
    EXPECT_EQ(Q(R"(SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
                   JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
                   WHERE d.adrelid = '"DriverTask"'::regclass AND a.attname = 'forStatus')"),
              R"('PICKUP_ASSIGNED'::"BookingStatus")");
    EXPECT_EQ(Q(R"(SELECT count(*) FROM "Booking" WHERE "previousStatus" IS NULL)"), "166");
    EXPECT_EQ(Q(R"(SELECT attnotnull FROM pg_attribute
                   WHERE attrelid = '"Booking"'::regclass AND attname = 'status')"),
              "t");
    EXPECT_EQ(Q(R"(SELECT count(*) FROM "Booking_Status_Migration_Backup")"), "1500");
    EXPECT_EQ(MigratorLeftovers(booking_), "");
    // The table itself was never rewritten.
    EXPECT_EQ(Q(R"(SELECT relfilenode FROM pg_class WHERE relname = 'Booking')"), relfilenode);
  }

  // Rollback after rollback, back to the original state, row for row.
  void ExpectRollbacksRestore(const std::string& rows, const std::string& tasks,
                              const std::string& labels) {
    Migrate({"rollback"});  // contract
    EXPECT_NE(Q(kLabelsSql).find("JOCKEY_ASSIGNED"), std::string::npos);
    Migrate({"rollback"});  // backfill
    EXPECT_EQ(Q(kRowsSql), rows);
    EXPECT_EQ(Q(kTaskRowsSql), tasks);
    Migrate({"rollback"});  // expand
    EXPECT_EQ(Q(kLabelsSql), labels);
    EXPECT_EQ(Q(kRowsSql), rows);
    EXPECT_EQ(Q(kTaskRowsSql), tasks);
    EXPECT_EQ(Q(R"(SELECT to_regclass('"Booking_Status_Migration_Backup"') IS NULL)"), "t");
    EXPECT_EQ(Q(R"(SELECT count(*) FROM "WorkshopQueue")"),
              Q(R"(SELECT count(*) FROM "Booking" WHERE status = 'IN_WORKSHOP')"));
    Migrate({"rollback"});
    EXPECT_NE(last_output_.find("nothing to roll back"), std::string::npos);
    // Backfill recorded only the status changes (IN_WORKSHOP to IN_SERVICE
    // by the rule), once each; each relabelled booking has one rollback event.
    EXPECT_EQ(Q(R"(SELECT count(*) FROM "BookingOutbox" WHERE reason = 'status migration backfill'
                   AND ("fromStatus", "toStatus") <> ('AT_WORKSHOP', 'IN_SERVICE'))"),
              "0");
    EXPECT_EQ(Q(R"(SELECT count(DISTINCT "bookingId") FROM "BookingOutbox"
                   WHERE reason = 'status migration backfill')"),
              Q(R"(SELECT count(*) FROM "Booking"
                   WHERE status = 'IN_WORKSHOP' AND "workStartedAt" IS NOT NULL)"));
    EXPECT_NE(
        Q(R"(SELECT count(*) FROM "BookingOutbox" WHERE reason = 'status migration backfill')"),
        "0");
    EXPECT_EQ(Q(R"(SELECT count(*) FROM (SELECT "bookingId" FROM "BookingOutbox" GROUP BY 1
                   HAVING count(*) FILTER (WHERE reason = 'status migration rollback') <> 1
                       OR count(*) FILTER (WHERE reason = 'status migration backfill') > 1) x)"),
              "0");
  }

  // Both services against this test's stores, `name` naming their logs and
  // tokens file (a dispatcher with `token`); the booking target.
  std::string StartServices(const std::string& name, const std::string& token) {
    const std::string dir = pg_->dir();
    std::ofstream(absl::StrCat(dir, "/", name, "-tokens")) << "dispatcher " << token << "\n";
    const std::string booking_target = absl::StrCat("127.0.0.1:", FreePort());
    const std::string history_target = absl::StrCat("127.0.0.1:", FreePort());
    history_service_ = Process::Spawn({HistoryServiceBin(), "--listen", history_target,
                                       "--database-url", history_, "--insecure-plaintext"},
                                      {}, absl::StrCat(dir, "/", name, "-history.log"));
    booking_service_ =
        Process::Spawn({BookingServiceBin(), "--listen", booking_target, "--database-url", booking_,
                        "--history-target", history_target, "--auth-tokens-file",
                        absl::StrCat(dir, "/", name, "-tokens"), "--insecure-plaintext"},
                       {}, absl::StrCat(dir, "/", name, "-booking.log"));
    EXPECT_TRUE(history_service_.ok() && booking_service_.ok());
    return booking_target;
  }

  std::string booking_, history_, last_output_;
  absl::StatusOr<Process> history_service_ = absl::UnknownError("not started");
  absl::StatusOr<Process> booking_service_ = absl::UnknownError("not started");
};

// booking-service calls as a dispatcher with `token`.
class Dispatcher {
 public:
  Dispatcher(const std::string& target, std::string token)
      : stub_(v1::BookingService::NewStub(
            grpc::CreateChannel(target, grpc::InsecureChannelCredentials()))),
        token_(std::move(token)) {}

  // The booking's status after the change (expects it to succeed).
  v1::BookingStatus Change(const std::string& id, v1::BookingStatus target,
                           const std::string& reason = "") {
    v1::ChangeStatusRequest request;
    request.set_booking_id(id);
    request.set_target_status(target);
    if (!reason.empty()) request.set_reason(reason);
    v1::ChangeStatusResponse response;
    grpc::Status s = stub_->ChangeStatus(AuthedContext(token_).get(), request, &response);
    EXPECT_TRUE(s.ok()) << id << " -> " << v1::BookingStatus_Name(target) << ": "
                        << s.error_message();
    return response.booking().status();
  }
  v1::BookingStatus Get(const std::string& id) {
    v1::GetBookingRequest request;
    request.set_booking_id(id);
    v1::Booking booking;
    grpc::Status s = stub_->GetBooking(AuthedContext(token_).get(), request, &booking);
    EXPECT_TRUE(s.ok()) << id << ": " << s.error_message();
    return booking.status();
  }
  v1::BookingService::Stub& stub() { return *stub_; }
  std::unique_ptr<grpc::ClientContext> Context() const { return AuthedContext(token_); }

 private:
  std::unique_ptr<v1::BookingService::Stub> stub_;
  std::string token_;
};

TEST_F(MigrationCycleTest, FullCycleThenRollbacksBackToTheOriginalRowForRow) {
  Load("cycle");
  const std::string rows = Q(kRowsSql), tasks = Q(kTaskRowsSql), labels = Q(kLabelsSql);
  const std::string relfilenode =
      Q(R"(SELECT relfilenode FROM pg_class WHERE relname = 'Booking')");

  Migrate({"expand"});
  EXPECT_EQ(Q(R"(SELECT count(*) FROM "Booking_Status_Migration_Backup")"), "1500");
  Migrate({"backfill", "--in-service-rule", kRule, "--batch-size", "200", "--progress", "lines"});
  EXPECT_NE(last_output_.find("no old label is left"), std::string::npos) << last_output_;
  // IN_WORKSHOP rows went to IN_SERVICE exactly where the rule says.
  EXPECT_EQ(
      Q(R"(SELECT count(*) FROM "Booking" b JOIN "Booking_Status_Migration_Backup" k USING (id)
                 WHERE k.status = 'IN_WORKSHOP' AND b.status::text <>
                   CASE WHEN b."workStartedAt" IS NOT NULL THEN 'IN_SERVICE' ELSE 'AT_WORKSHOP' END)"),
      "0");
  Migrate({"verify"});
  EXPECT_NE(last_output_.find("verify: passed"), std::string::npos);
  // Before the compatibility window has passed, contract refuses.
  Migrate({"contract"}, 6);
  EXPECT_NE(last_output_.find("compatibility window"), std::string::npos) << last_output_;
  Migrate({"contract", "--compatibility-window", "0s"});
  // The old column's indexes went concurrently before the swap (their files
  // are not freed under its lock); the swap renamed their replacements.
  const size_t retired = last_output_.find("swap: dropped ");
  ASSERT_NE(retired, std::string::npos) << last_output_;
  const std::string retired_line =
      last_output_.substr(retired, last_output_.find('\n', retired) - retired);
  for (const char* index :
       {"Booking_status_idx", "Booking_workshop_idx", "Booking_in_transit_idx"}) {
    EXPECT_NE(retired_line.find(index), std::string::npos) << retired_line;
  }
  EXPECT_LT(retired, last_output_.find("swap: held")) << last_output_;

  ExpectContracted(relfilenode);
  // Running a finished phase again changes nothing.
  Migrate({"contract", "--compatibility-window", "0s"});
  EXPECT_NE(last_output_.find("nothing to do"), std::string::npos);

  ExpectRollbacksRestore(rows, tasks, labels);
}

TEST_F(MigrationCycleTest, BookingsChangedThroughTheServiceKeepTheirProgressThroughRollback) {
  Load("service");
  Migrate({"up"});
  Migrate({"expand"});
  Migrate({"backfill", "--in-service-rule", kRule});
  const std::string log = pg_->dir() + "/cycle-booking.log";
  const std::string target = StartServices("cycle", "token-cycle-0000001");
  ASSERT_TRUE(WaitServing(target, absl::Seconds(30)).ok()) << ReadFile(log);
  Dispatcher dispatcher(target, "token-cycle-0000001");
  const std::string moved = "moved on after the backfill";
  // bk-00000002 was JOCKEY_ASSIGNED (now PICKUP_ASSIGNED): the car is picked up.
  // bk-00000013 was IN_WORKSHOP without work started (now AT_WORKSHOP): work starts.
  // bk-00000011 was JOCKEY_ASSIGNED: the driver is unassigned (back to CONFIRMED).
  EXPECT_EQ(dispatcher.Change("bk-00000002", v1::PICKED_UP, moved), v1::PICKED_UP);
  EXPECT_EQ(dispatcher.Change("bk-00000013", v1::IN_SERVICE, moved), v1::IN_SERVICE);
  EXPECT_EQ(dispatcher.Change("bk-00000011", v1::CONFIRMED, moved), v1::CONFIRMED);
  // A booking created now (new labels from the start).
  v1::CreateBookingRequest create;
  create.set_customer_id("new");
  create.set_payment_settled(true);
  v1::Booking created;
  ASSERT_TRUE(dispatcher.stub().CreateBooking(dispatcher.Context().get(), create, &created).ok());
  EXPECT_EQ(dispatcher.Change(created.id(), v1::PICKUP_ASSIGNED, moved), v1::PICKUP_ASSIGNED);

  Migrate({"verify"});  // moved-on rows are fine
  Migrate({"rollback"});
  auto status_of = [&](const std::string& id) {
    return Q(absl::StrCat(R"(SELECT status FROM "Booking" WHERE id = ')", id, "'"));
  };
  EXPECT_EQ(status_of("bk-00000002"), "IN_TRANSIT_TO_WORKSHOP");  // progress kept
  EXPECT_EQ(status_of("bk-00000013"), "IN_WORKSHOP");
  EXPECT_EQ(status_of("bk-00000011"), "CONFIRMED");
  EXPECT_EQ(status_of("bk-00000020"), "JOCKEY_ASSIGNED");  // untouched: its backup value
  EXPECT_EQ(status_of(created.id()), "JOCKEY_ASSIGNED");
  // booking-service reads every booking as it was before the rollback: the
  // exact new status of a lossy old label is kept beside it.
  EXPECT_EQ(dispatcher.Get("bk-00000013"), v1::IN_SERVICE);
  EXPECT_EQ(dispatcher.Get("bk-00000002"), v1::PICKED_UP);
  EXPECT_EQ(dispatcher.Get("bk-00000004"), v1::IN_SERVICE);  // the IN_SERVICE rule's choice

  // History: every change exactly once, in order, by whom it was made.
  ASSERT_TRUE(
      WaitForCount(booking_, R"(SELECT count(*) FROM "BookingOutbox")", 0, absl::Seconds(60)))
      << ReadFile(log);
  // One naming: the new names, whatever label the row held. The backfill
  // kept its status: no entry, no version.
  EXPECT_EQ(HistoryOf("bk-00000002"),
            "1|PICKUP_ASSIGNED|PICKED_UP|dispatcher|moved on after the backfill|\n"
            "2|PICKED_UP|PICKED_UP|migrator|status migration rollback|\n");
  // The rule's IN_SERVICE is a status change: its entry stays.
  EXPECT_EQ(HistoryOf("bk-00000004"),
            "1|AT_WORKSHOP|IN_SERVICE|migrator|status migration backfill|\n"
            "2|IN_SERVICE|IN_SERVICE|migrator|status migration rollback|\n");
  EXPECT_EQ(
      QueryValue(history_, R"(SELECT count(*) FROM "BookingStatusHistory")"),
      QueryValue(history_, R"(SELECT count(DISTINCT "eventId") FROM "BookingStatusHistory")"));
}

// Rows, events, schema and phase: what a second run of a phase must leave alone.
std::string Snapshot(const std::string& url) {
  return QueryText(url, R"(
    SELECT md5(string_agg(concat_ws('|', id, status, "previousStatus", version, "updatedAt"), ','
                          ORDER BY id)) FROM "Booking"
    UNION ALL SELECT count(*)::text FROM "BookingOutbox"
    UNION ALL SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum
              WHERE enumtypid = '"BookingStatus"'::regtype
    UNION ALL SELECT string_agg(indexdef, ';' ORDER BY indexname) FROM pg_indexes
              WHERE tablename = 'Booking'
    UNION ALL SELECT phase FROM "StatusMigration"
    UNION ALL SELECT CASE WHEN to_regclass('"Booking_Status_Migration_Backup"') IS NULL
                          THEN 'no backup' ELSE 'backup' END)");
}

TEST_F(MigrationCycleTest, EveryPhaseRunTwiceChangesNothingTheSecondTime) {
  Load("twice");
  const std::vector<std::vector<std::string>> phases = {
      {"expand"},
      {"backfill", "--in-service-rule", kRule},
      {"verify"},
      {"contract", "--compatibility-window", "0s"},
      {"rollback", "contract"},
      {"rollback", "backfill"},
      {"rollback", "expand"}};
  for (const auto& args : phases) {
    Migrate(args);
    const std::string once = Snapshot(booking_);
    Migrate(args);
    EXPECT_EQ(Snapshot(booking_), once) << absl::StrJoin(args, " ") << " changed something again";
  }
}

TEST_F(MigrationCycleTest, ANamedRollbackRefusesWhileALaterPhaseStands) {
  Load("named");
  Migrate({"expand"});
  Migrate({"backfill"});
  Migrate({"verify"});
  Migrate({"contract", "--compatibility-window", "0s"});
  Migrate({"rollback", "backfill"}, 6);
  EXPECT_NE(last_output_.find("roll back contract first"), std::string::npos) << last_output_;
  Migrate({"rollback", "expand"}, 6);
  Migrate({"rollback", "nonsense"}, 2);
}

TEST_F(MigrationCycleTest, BookingServiceWorksInEveryPhase) {
  Load("phases");
  const std::string log = pg_->dir() + "/phases-booking.log";
  const std::string target = StartServices("phases", "token-phases-000002");
  ASSERT_TRUE(history_service_.ok() && booking_service_.ok());
  // Before expand the new labels do not exist: not ready, and it says why.
  EXPECT_FALSE(WaitServing(target, absl::Seconds(3)).ok());
  EXPECT_NE(ReadFile(log).find("run `migrator expand` first"), std::string::npos);
  Migrate({"expand"});
  ASSERT_TRUE(WaitServing(target, absl::Seconds(10)).ok()) << ReadFile(log);
  Dispatcher dispatcher(target, "token-phases-000002");
  // Old labels read as their new names; a filter finds them by the new name.
  EXPECT_EQ(Q(R"(SELECT status FROM "Booking" WHERE id = 'bk-00000002')"), "JOCKEY_ASSIGNED");
  EXPECT_EQ(dispatcher.Get("bk-00000002"), v1::PICKUP_ASSIGNED);
  v1::ListBookingsRequest list;
  list.set_status(v1::PICKUP_ASSIGNED);
  list.set_page_size(1000);
  v1::ListBookingsResponse page;
  ASSERT_TRUE(dispatcher.stub().ListBookings(dispatcher.Context().get(), list, &page).ok());
  EXPECT_EQ(page.bookings_size(), 167);  // every JOCKEY_ASSIGNED booking
  // Changes in every phase; the service writes new labels once they exist.
  EXPECT_EQ(dispatcher.Change("bk-00000002", v1::PICKED_UP), v1::PICKED_UP);
  EXPECT_EQ(Q(R"(SELECT status FROM "Booking" WHERE id = 'bk-00000002')"), "PICKED_UP");
  Migrate({"backfill"});
  EXPECT_EQ(dispatcher.Change("bk-00000002", v1::AT_WORKSHOP), v1::AT_WORKSHOP);
  Migrate({"verify"});
  Migrate({"contract", "--compatibility-window", "0s"});
  // The type was swapped under the service's pooled connections.
  EXPECT_EQ(dispatcher.Change("bk-00000002", v1::IN_SERVICE), v1::IN_SERVICE);
  EXPECT_EQ(dispatcher.Change("bk-00000011", v1::PICKED_UP), v1::PICKED_UP);
  EXPECT_TRUE(WaitServing(target, absl::Seconds(10)).ok());
  Migrate({"rollback"});  // contract
  EXPECT_EQ(dispatcher.Change("bk-00000002", v1::READY_FOR_RETURN), v1::READY_FOR_RETURN);
}

}  // namespace
}  // namespace booking::testing
