// `migrator up`: the schema of an empty store, adoption of an existing
// Prisma-shaped store, reruns that change nothing, the ledger's checksums,
// the per-store lock, and the exit codes a Kubernetes Job acts on.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "tests/support/fixtures.h"
#include "tests/support/pg_suite.h"
#include "tests/support/sql.h"

namespace booking::testing {
namespace {

class MigratorUpTest : public PgSuite {
 protected:
  void SetUp() override {
    PgSuite::SetUp();
    if (HasFatalFailure()) return;
    static int n = 0;
    const std::string prefix = absl::StrCat("m", ++n);
    absl::StatusOr<std::string> booking = pg_->CreateDatabase(prefix + "_booking");
    absl::StatusOr<std::string> history = pg_->CreateDatabase(prefix + "_history");
    ASSERT_TRUE(booking.ok()) << booking.status();
    ASSERT_TRUE(history.ok()) << history.status();
    booking_url_ = *booking;
    history_url_ = *history;
  }

  // The migrator on this test's stores; without `with_env`, with
  // BOOKING_DATABASE_URL and HISTORY_DATABASE_URL empty.
  MigratorRun Migrator(std::vector<std::string> args, bool with_env = true) {
    return with_env ? RunMigrator(*pg_, booking_url_, history_url_, std::move(args))
                    : RunMigrator(*pg_, "", "", std::move(args));
  }

  // Tables, columns, types, defaults, indexes, triggers: what a rerun must not change.
  static std::string Shape(const std::string& url) {
    return QueryText(url, R"(
      SELECT table_name, column_name, data_type, udt_name, column_default, is_nullable
      FROM information_schema.columns WHERE table_schema = 'public'
      ORDER BY table_name, column_name)") +
           QueryText(
               url,
               "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY "
               "1") +
           QueryText(url, "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1") +
           QueryText(url,
                     R"(SELECT step, checksum, "appliedAt" FROM "MigrationLedger" ORDER BY step)");
  }

  std::string booking_url_, history_url_;
};

TEST_F(MigratorUpTest, EmptyStoresGetThePrismaShapeWithTheNewStatusSet) {
  MigratorRun run = Migrator({"up"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(QueryText(booking_url_,
                      R"(SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum
                     WHERE enumtypid = '"BookingStatus"'::regtype)"),
            "PENDING_PAYMENT,CONFIRMED,PICKUP_ASSIGNED,PICKED_UP,AT_WORKSHOP,IN_SERVICE,"
            "READY_FOR_RETURN,RETURN_ASSIGNED,RETURNED,DELIVERED,CANCELLED|\n");
  EXPECT_EQ(
      QueryText(booking_url_, R"(SELECT column_default, udt_name FROM information_schema.columns
                                  WHERE table_name = 'Booking' AND column_name = 'status')"),
      "'PENDING_PAYMENT'::\"BookingStatus\"|BookingStatus|\n");
  EXPECT_EQ(QueryText(booking_url_, R"(SELECT count(*) FROM information_schema.columns
                                  WHERE table_name = 'Booking'
                                    AND column_name IN ('updatedAt', 'createdAt', 'customerId', 'version'))"),
            "4|\n");
  for (const char* table : {"BookingOutbox", "IdempotencyRecord", "BookingExtension",
                            "BookingOutboxRejected", "MigrationLedger"}) {
    EXPECT_EQ(
        QueryText(booking_url_, absl::StrCat("SELECT to_regclass('\"", table, "\"') IS NOT NULL")),
        "t|\n")
        << table;
  }
  EXPECT_EQ(QueryText(history_url_, R"(SELECT to_regclass('"BookingStatusHistory"') IS NOT NULL)"),
            "t|\n");
}

TEST_F(MigratorUpTest, RunningTwiceChangesNothing) {
  ASSERT_EQ(Migrator({"up"}).exit_code, 0);
  const std::string booking_before = Shape(booking_url_);
  const std::string history_before = Shape(history_url_);
  MigratorRun again = Migrator({"up"});
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("booking: up to date"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("history: up to date"), std::string::npos) << again.output;
  EXPECT_EQ(Shape(booking_url_), booking_before);
  EXPECT_EQ(Shape(history_url_), history_before);
}

TEST_F(MigratorUpTest, AdoptsAnExistingPrismaStoreWithOldLabelsUntouched) {
  {
    pqxx::connection conn(booking_url_);
    pqxx::work txn(conn);
    txn.exec(R"(
      CREATE TYPE "BookingStatus" AS ENUM ('PENDING_PAYMENT', 'CONFIRMED', 'JOCKEY_ASSIGNED',
        'IN_TRANSIT_TO_WORKSHOP', 'IN_WORKSHOP', 'COMPLETED', 'IN_TRANSIT_TO_CUSTOMER',
        'DELIVERED', 'CANCELLED');
      CREATE TABLE "Booking" (
        id TEXT NOT NULL PRIMARY KEY,
        status "BookingStatus" NOT NULL DEFAULT 'PENDING_PAYMENT',
        "totalPrice" INTEGER NOT NULL DEFAULT 0,
        "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "updatedAt" TIMESTAMP(3) NOT NULL);
      INSERT INTO "Booking" (id, status, "updatedAt") VALUES
        ('b1', 'JOCKEY_ASSIGNED', '2026-01-01'), ('b2', 'IN_WORKSHOP', '2026-01-02'),
        ('b3', 'DELIVERED', '2026-01-03');)");
    txn.commit();
  }
  const std::string rows =
      R"(SELECT id, status::text, "updatedAt", "totalPrice" FROM "Booking" ORDER BY id)";
  const std::string before = QueryText(booking_url_, rows);
  MigratorRun run = Migrator({"up"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(QueryText(booking_url_, rows), before);
  // The old labels are still there (the phased change is the migrator's other job).
  EXPECT_EQ(QueryText(booking_url_, R"(SELECT count(*) FROM pg_enum
                                  WHERE enumtypid = '"BookingStatus"'::regtype)"),
            "9|\n");
  EXPECT_EQ(QueryText(booking_url_, R"(SELECT to_regclass('"BookingOutbox"') IS NOT NULL)"),
            "t|\n");
  EXPECT_EQ(QueryText(booking_url_, R"(SELECT min(version), max(version) FROM "Booking")"),
            "0|0|\n");
}

TEST_F(MigratorUpTest, DryRunPrintsThePlanAndChangesNothing) {
  MigratorRun run = Migrator({"up", "--dry-run"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("would apply 0001_booking_base"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("would apply 0002_history_immutable"), std::string::npos) << run.output;
  EXPECT_EQ(
      QueryText(booking_url_, R"(SELECT count(*) FROM pg_tables WHERE schemaname = 'public')"),
      "0|\n");
  EXPECT_EQ(
      QueryText(history_url_, R"(SELECT count(*) FROM pg_tables WHERE schemaname = 'public')"),
      "0|\n");
}

TEST_F(MigratorUpTest, AnEditedAppliedStepIsRefused) {
  ASSERT_EQ(Migrator({"up"}).exit_code, 0);
  QueryText(booking_url_,
            R"(UPDATE "MigrationLedger" SET checksum = 'feedface' WHERE step = '0001_booking_base'
           RETURNING step)");
  MigratorRun run = Migrator({"up", "--store", "booking"});
  EXPECT_EQ(run.exit_code, 4) << run.output;
  EXPECT_NE(run.output.find("0001_booking_base"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("edited after it was applied"), std::string::npos) << run.output;
  MigratorRun status = Migrator({"status", "--store", "booking"});
  EXPECT_EQ(status.exit_code, 4) << status.output;
}

TEST_F(MigratorUpTest, ASecondRunWaitsForTheLockThenGivesUpClearly) {
  ASSERT_EQ(Migrator({"up"}).exit_code, 0);
  pqxx::connection holder(booking_url_);
  {
    pqxx::nontransaction txn(holder);
    // The booking store's migrator lock key (see migrator/ledger.cc).
    txn.exec("SELECT pg_advisory_lock(7883946363647717234)");
  }
  MigratorRun busy = Migrator({"up", "--store", "booking", "--lock-wait", "1s"});
  EXPECT_EQ(busy.exit_code, 3) << busy.output;
  EXPECT_NE(busy.output.find("another migrator run holds the booking store's lock: pid"),
            std::string::npos)
      << busy.output;
  {
    pqxx::nontransaction txn(holder);
    txn.exec("SELECT pg_advisory_unlock_all()");
  }
  EXPECT_EQ(Migrator({"up", "--store", "booking", "--lock-wait", "1s"}).exit_code, 0);
}

TEST_F(MigratorUpTest, UsageErrorsSayWhatToDo) {
  MigratorRun no_url = Migrator({"up"}, /*with_env=*/false);
  EXPECT_EQ(no_url.exit_code, 2);
  EXPECT_NE(no_url.output.find("BOOKING_DATABASE_URL"), std::string::npos) << no_url.output;
  MigratorRun unknown = Migrator({"upp"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.output.find("unknown command \"upp\""), std::string::npos) << unknown.output;
  MigratorRun unreachable = Migrator({"up", "--store", "booking", "--booking-database-url",
                                      "postgresql://postgres@127.0.0.1:1/nowhere"});
  EXPECT_EQ(unreachable.exit_code, 1);
  EXPECT_NE(unreachable.output.find("database unreachable"), std::string::npos)
      << unreachable.output;
  // --workers: each is a connection to the primary; 0, negative or absurd
  // counts are refused before anything runs.
  for (const std::string workers : {"0", "-3", "65", "100000"}) {
    MigratorRun bad = Migrator({"backfill", "--workers", workers});
    EXPECT_EQ(bad.exit_code, 2) << workers << ": " << bad.output;
    EXPECT_NE(bad.output.find("--workers must be between 1 and 64"), std::string::npos)
        << bad.output;
  }
  MigratorRun help = Migrator({"--help"});
  EXPECT_NE(help.output.find("Exit codes"), std::string::npos) << help.output;
}

TEST_F(MigratorUpTest, StatusJsonListsAppliedAndPendingSteps) {
  ASSERT_EQ(Migrator({"up", "--store", "history"}).exit_code, 0);
  MigratorRun run = Migrator({"status", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(
      run.output.find(
          R"("pending":["0001_booking_base","0002_booking_service_tables","0003_status_migration_state","0004_status_migration_modes","0005_outbox_retry","0006_outbox_trace"])"),
      std::string::npos)
      << run.output;
  EXPECT_NE(
      run.output.find(
          R"("applied":["0001_history_base","0002_history_immutable","0003_history_recorded_at_clock","0004_history_held_back","0005_history_chain","0006_history_checkpoints","0007_history_list_indexes","0008_history_feed","0009_history_trace","0010_history_held_back_bounded","0011_history_feed_queue","0012_history_log_tree","0013_history_feed_queue_batches","0014_history_keys"])"),
      std::string::npos)
      << run.output;
}

// Step 0007 builds its indexes concurrently, outside a transaction: a build
// that failed half-way leaves an invalid index of the same name, which the
// next run drops and builds again, as the step defines it.
TEST_F(MigratorUpTest, AnInvalidLeftoverOfAConcurrentBuildIsRebuilt) {
  ASSERT_EQ(Migrator({"up", "--store", "history"}).exit_code, 0);
  QueryText(history_url_, R"(
    INSERT INTO "BookingStatusHistory" ("eventId", "bookingId", sequence, "toStatus")
    SELECT gen_random_uuid(), 'b' || s, 1, 'SAME' FROM generate_series(1, 3) AS s)");
  QueryText(history_url_, R"(DROP INDEX "BookingStatusHistory_toStatus_createdAt_idx")");
  QueryText(history_url_,
            R"(DELETE FROM "MigrationLedger" WHERE step = '0007_history_list_indexes')");
  // A unique build over equal values fails and leaves the index invalid.
  EXPECT_ANY_THROW(QueryText(history_url_, R"(CREATE UNIQUE INDEX CONCURRENTLY
    "BookingStatusHistory_toStatus_createdAt_idx" ON "BookingStatusHistory" ("toStatus"))"));
  const std::string state = R"(SELECT indisvalid, indisunique, pg_get_indexdef(indexrelid) LIKE
    '%("toStatus", "createdAt", id)' FROM pg_index
    WHERE indexrelid = '"BookingStatusHistory_toStatus_createdAt_idx"'::regclass)";
  ASSERT_EQ(QueryText(history_url_, state), "f|t|f|\n");
  MigratorRun run = Migrator({"up", "--store", "history"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("applied 0007_history_list_indexes"), std::string::npos) << run.output;
  EXPECT_EQ(QueryText(history_url_, state), "t|f|t|\n");
}

}  // namespace
}  // namespace booking::testing
