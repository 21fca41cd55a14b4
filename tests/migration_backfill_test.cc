// What backfill records, on a production-shaped store with both services
// running: a relabel that keeps the status (an old label to its own new
// name) is a change of representation, not of state: no history entry, no
// version bump, so a caller's expected_version read before the backfill
// still holds after it; a relabel that changes the status (IN_WORKSHOP to
// IN_SERVICE by --in-service-rule) keeps its entry and its version bump.
// The capture trigger agrees for plain-SQL writers: a write that keeps the
// status records nothing, one that changes it is recorded. A batch statement
// the server refuses as prepared is prepared anew, its batch done once.
// Several workers killed mid-run: the rerun relabels what is left, each
// booking once.
#include <signal.h>

#include "absl/strings/str_cat.h"
#include "booking/v1/booking.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/support/fixtures.h"
#include "tests/support/grpc_client.h"
#include "tests/support/kill_steps.h"
#include "tests/support/pg_suite.h"
#include "tests/support/process.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

constexpr char kRule[] = R"("workStartedAt" IS NOT NULL)";
// The fixture's bk-<i> holds old label number 1 + i % 9; IN_WORKSHOP rows
// with an even i have work started.
constexpr char kKept[] = "bk-00000002";      // JOCKEY_ASSIGNED: PICKUP_ASSIGNED
constexpr char kWorkshop[] = "bk-00000013";  // IN_WORKSHOP, no work: AT_WORKSHOP
constexpr char kStarted[] = "bk-00000004";   // IN_WORKSHOP, work started: IN_SERVICE
constexpr char kOldRows[] = R"(SELECT count(*) FROM "Booking"
    WHERE status::text IN ('JOCKEY_ASSIGNED', 'IN_TRANSIT_TO_WORKSHOP', 'IN_WORKSHOP', 'COMPLETED',
                           'IN_TRANSIT_TO_CUSTOMER'))";

class MigrationBackfillTest : public PgSuite {
 protected:
  void SetUp() override {
    // One pair of stores per test.
    static int n = 0;
    auto set = ServiceSet::CreateSeeded(*pg_, absl::StrCat("backfill", ++n),
                                        FixturePath("prisma_booking_store.sql"), {"rows=300"});
    ASSERT_TRUE(set.ok()) << set.status();
    set_ = *std::move(set);
    Migrate({"expand"});
    ASSERT_TRUE(set_->StartHistory().ok()) << set_->Logs();
    ASSERT_TRUE(set_->StartBooking().ok()) << set_->Logs();
    stub_ = v1::BookingService::NewStub(
        grpc::CreateChannel(set_->booking_target(), grpc::InsecureChannelCredentials()));
  }

  void Migrate(const std::vector<std::string>& args) {
    MigratorRun run = RunMigrator(*pg_, set_->booking_url(), set_->history_url(), args);
    ASSERT_EQ(run.exit_code, 0) << args[0] << ":\n" << run.output;
  }

  // "<stored label>|<version>"
  std::string Row(const std::string& id) {
    return QueryValue(set_->booking_url(),
                      absl::StrCat(R"(SELECT concat_ws('|', status, version) FROM "Booking"
                                      WHERE id = ')",
                                   id, "'"));
  }
  int64_t Events(const std::string& id) {
    return QueryCount(set_->booking_url(),
                      absl::StrCat(R"(SELECT count(*) FROM "BookingOutbox" WHERE "bookingId" = ')",
                                   id, "'")) +
           QueryCount(set_->history_url(),
                      absl::StrCat(R"(SELECT count(*) FROM "BookingStatusHistory"
                                      WHERE "bookingId" = ')",
                                   id, "'"));
  }

  v1::Booking Get(const std::string& id) {
    v1::GetBookingRequest request;
    request.set_booking_id(id);
    v1::Booking booking;
    grpc::Status s = stub_->GetBooking(AuthedContext(ServiceSet::kToken).get(), request, &booking);
    EXPECT_TRUE(s.ok()) << id << ": " << s.error_message();
    return booking;
  }
  grpc::Status Change(const std::string& id, v1::BookingStatus target, int64_t expected_version) {
    v1::ChangeStatusRequest request;
    request.set_booking_id(id);
    request.set_target_status(target);
    request.set_expected_version(expected_version);
    v1::ChangeStatusResponse response;
    return stub_->ChangeStatus(AuthedContext(ServiceSet::kToken).get(), request, &response);
  }

  std::unique_ptr<ServiceSet> set_;
  std::unique_ptr<v1::BookingService::Stub> stub_;
};

TEST_F(MigrationBackfillTest, ARelabelKeepingTheStatusRecordsNothingAndKeepsTheVersion) {
  // Callers read the bookings (and their versions) before the backfill.
  const v1::Booking kept = Get(kKept), workshop = Get(kWorkshop), started = Get(kStarted);
  EXPECT_EQ(kept.status(), v1::PICKUP_ASSIGNED);
  EXPECT_EQ(workshop.status(), v1::AT_WORKSHOP);
  EXPECT_EQ(started.status(), v1::AT_WORKSHOP);
  EXPECT_EQ(Row(kKept), "JOCKEY_ASSIGNED|0");

  Migrate({"backfill", "--in-service-rule", kRule, "--batch-size", "50"});
  // Same status, new label: no entry, no version bump.
  EXPECT_EQ(Row(kKept), "PICKUP_ASSIGNED|0");
  EXPECT_EQ(Row(kWorkshop), "AT_WORKSHOP|0");
  EXPECT_EQ(Events(kKept), 0);
  EXPECT_EQ(Events(kWorkshop), 0);
  // The rule's IN_SERVICE is a status change: version 1, its entry.
  EXPECT_EQ(Row(kStarted), "IN_SERVICE|1");
  ASSERT_TRUE(WaitForCount(set_->booking_url(), R"(SELECT count(*) FROM "BookingOutbox")", 0,
                           absl::Seconds(60)))
      << set_->Logs();
  EXPECT_EQ(QueryText(set_->history_url(), absl::StrCat(R"(SELECT sequence, "fromStatus",
                                     "toStatus", "changedBy", reason FROM "BookingStatusHistory"
                                     WHERE "bookingId" = ')",
                                                        kStarted, "'")),
            "1|AT_WORKSHOP|IN_SERVICE|migrator|status migration backfill|\n");
  // Backfill wrote history only for the rule's status changes.
  EXPECT_EQ(QueryCount(set_->history_url(), R"(SELECT count(*) FROM "BookingStatusHistory"
                                               WHERE reason = 'status migration backfill'
                                                 AND ("fromStatus", "toStatus")
                                                     <> ('AT_WORKSHOP', 'IN_SERVICE'))"),
            0);

  // The versions read before the backfill still hold where the status was
  // kept; where it changed, the stale version is refused, as it must be.
  EXPECT_TRUE(Change(kKept, v1::PICKED_UP, kept.version()).ok());
  EXPECT_TRUE(Change(kWorkshop, v1::IN_SERVICE, workshop.version()).ok());
  EXPECT_EQ(Change(kStarted, v1::READY_FOR_RETURN, started.version()).error_code(),
            grpc::StatusCode::ABORTED);
  EXPECT_EQ(Row(kKept), "PICKED_UP|1");
}

TEST_F(MigrationBackfillTest, APlainSqlWriteKeepingTheStatusIsNotCapturedOneChangingItIs) {
  Migrate({"backfill"});
  const std::string url = set_->booking_url() + "?application_name=legacy-app";
  EXPECT_EQ(Row(kWorkshop), "AT_WORKSHOP|0");
  // Old code writes the old name of the status the booking has: no change.
  Exec(url,
       absl::StrCat(R"(UPDATE "Booking" SET status = 'IN_WORKSHOP' WHERE id = ')", kWorkshop, "'"));
  EXPECT_EQ(Row(kWorkshop), "IN_WORKSHOP|0");
  EXPECT_EQ(Events(kWorkshop), 0);
  // ... but it is still counted as a writer of old labels.
  EXPECT_EQ(QueryCount(set_->booking_url(), R"(SELECT count(*) FROM "StatusMigrationWriter"
                                               WHERE application = 'legacy-app')"),
            1);
  // A status change by old code is captured: version bumped, its event.
  Exec(url,
       absl::StrCat(R"(UPDATE "Booking" SET status = 'COMPLETED' WHERE id = ')", kWorkshop, "'"));
  EXPECT_EQ(Row(kWorkshop), "COMPLETED|1");
  ASSERT_TRUE(WaitForCount(set_->booking_url(), R"(SELECT count(*) FROM "BookingOutbox")", 0,
                           absl::Seconds(60)))
      << set_->Logs();
  EXPECT_EQ(QueryText(set_->history_url(), absl::StrCat(R"(SELECT sequence, "fromStatus",
                                     "toStatus" FROM "BookingStatusHistory"
                                     WHERE "bookingId" = ')",
                                                        kWorkshop, "'")),
            "1|AT_WORKSHOP|READY_FOR_RETURN|\n");
  // Another booking moved by old code (PICKUP_ASSIGNED -> AT_WORKSHOP: a
  // change); backfill again relabels both without recording anything more.
  Exec(url,
       absl::StrCat(R"(UPDATE "Booking" SET status = 'IN_WORKSHOP' WHERE id = ')", kKept, "'"));
  EXPECT_EQ(Row(kKept), "IN_WORKSHOP|1");
  Migrate({"backfill"});
  EXPECT_EQ(Row(kWorkshop), "READY_FOR_RETURN|1");
  EXPECT_EQ(Row(kKept), "AT_WORKSHOP|1");
  ASSERT_TRUE(WaitForCount(set_->booking_url(), R"(SELECT count(*) FROM "BookingOutbox")", 0,
                           absl::Seconds(60)))
      << set_->Logs();
  EXPECT_EQ(Events(kWorkshop), 1);
  EXPECT_EQ(Events(kKept), 1);
}

// The batch statement is prepared once per connection; one the server no
// longer runs as prepared (stale after a type change, or gone) is prepared
// anew and its batch run again: no row is skipped, no entry written twice.
TEST_F(MigrationBackfillTest, ABatchStatementTheServerRefusesIsPreparedAnew) {
  // Before the second batch the server forgets the statement (26000).
  FaultRun run = RunMigratorWithFault(
      *pg_, set_->booking_url(), {"backfill", "--in-service-rule", kRule, "--batch-size", "50"},
      "stale-prepared=2");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("preparing it anew"), std::string::npos) << run.output;
  EXPECT_EQ(QueryCount(set_->booking_url(), kOldRows), 0);
  EXPECT_EQ(Row(kKept), "PICKUP_ASSIGNED|0");
  EXPECT_EQ(Row(kStarted), "IN_SERVICE|1");
  // One entry per booking the rule moved, none more.
  const int64_t moved = QueryCount(set_->booking_url(),
                                   R"(SELECT count(*) FROM "Booking" WHERE status = 'IN_SERVICE')");
  EXPECT_GT(moved, 1);
  ASSERT_TRUE(WaitForCount(set_->booking_url(), R"(SELECT count(*) FROM "BookingOutbox")", 0,
                           absl::Seconds(60)))
      << set_->Logs();
  EXPECT_EQ(QueryCount(set_->history_url(), R"(SELECT count(*) FROM "BookingStatusHistory"
                                               WHERE reason = 'status migration backfill')"),
            moved);
}

// Three workers, each its own session and range of ids, SIGKILLed once a
// few of their batches have committed: the rerun finds what is left by the
// labels the rows hold (no cursor survives the kill), relabels it, verify
// passes, and every booking the rule moved has its one history entry.
TEST_F(MigrationBackfillTest, AMultiWorkerBackfillKilledMidRunFinishesOnRerun) {
  const std::string& url = set_->booking_url();
  const int64_t before = QueryCount(url, kOldRows);
  ASSERT_GT(before, 100);
  absl::StatusOr<Process> run =
      Process::Spawn({MigratorBin(), "backfill", "--in-service-rule", kRule, "--workers", "3",
                      "--batch-size", "5", "--throttle", "50ms"},
                     {"BOOKING_DATABASE_URL=" + url, "HISTORY_DATABASE_URL=" + set_->history_url()},
                     set_->log_dir() + "/migrator-killed.log");
  ASSERT_TRUE(run.ok()) << run.status();
  absl::Status relabelling = WaitFor([&] { return QueryCount(url, kOldRows) <= before - 15; },
                                     absl::Minutes(2), "a few batches committed");
  ASSERT_TRUE(relabelling.ok()) << relabelling
                                << ReadFile(set_->log_dir() + "/migrator-killed.log");
  run->Signal(SIGKILL);
  absl::StatusOr<int> killed = run->Wait(absl::Minutes(1));
  ASSERT_TRUE(killed.ok()) << killed.status();
  EXPECT_EQ(*killed, 137);
  const int64_t left = QueryCount(url, kOldRows);
  ASSERT_GT(left, 0) << "the backfill had finished before the kill";

  Migrate({"backfill", "--in-service-rule", kRule, "--workers", "3", "--batch-size", "20"});
  EXPECT_EQ(QueryCount(url, kOldRows), 0);
  Migrate({"verify"});
  EXPECT_EQ(Row(kKept), "PICKUP_ASSIGNED|0");
  EXPECT_EQ(Row(kStarted), "IN_SERVICE|1");
  // Each booking the rule moved: version 1 and exactly one entry; no other
  // booking got one.
  const int64_t moved =
      QueryCount(url, R"(SELECT count(*) FROM "Booking" WHERE status = 'IN_SERVICE')");
  EXPECT_GT(moved, 1);
  EXPECT_EQ(QueryCount(url, R"(SELECT count(*) FROM "Booking"
                               WHERE version <> CASE WHEN status = 'IN_SERVICE' THEN 1 ELSE 0 END)"),
            0);
  ASSERT_TRUE(WaitForCount(url, R"(SELECT count(*) FROM "BookingOutbox")", 0, absl::Seconds(60)))
      << set_->Logs();
  EXPECT_EQ(QueryCount(set_->history_url(), R"(SELECT count(*) FROM "BookingStatusHistory"
                                               WHERE reason = 'status migration backfill')"),
            moved);
  EXPECT_EQ(QueryCount(set_->history_url(), R"(SELECT count(DISTINCT "bookingId")
                                               FROM "BookingStatusHistory"
                                               WHERE reason = 'status migration backfill')"),
            moved);
  // Every booking's backup row references the label it holds now.
  EXPECT_EQ(QueryCount(url, R"(SELECT count(*) FROM "Booking" b
                               LEFT JOIN "Booking_Status_Migration_Backup" bk USING (id)
                               WHERE bk."refStatus" IS DISTINCT FROM b.status::text)"),
            0);
}

}  // namespace
}  // namespace booking::testing
