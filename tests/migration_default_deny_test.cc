// Default deny, where a shape alone does not show it (the refusals and
// carried shapes are in migration_shapes_test): writes to every column of
// a long-named table during contract, `up` on a store keeping "Booking" rows
// as values, and sessions holding PL/pgSQL plans cached on the type across
// every swap.
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "tests/support/fixtures.h"
#include "tests/support/pg_suite.h"

namespace booking::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kRule[] = R"("workStartedAt" IS NOT NULL)";

// 55 bytes: "<table>_<column>__next_sync" passes 63 bytes for both columns, so
// names cut at 63 bytes would give both columns one sync trigger.
const std::string kTable = std::string("DriverTask_") + std::string(44, 'L');
const std::string kColumnA = std::string("pickupStatus_") + std::string(50, 'p');  // 63 bytes
constexpr char kColumnB[] = "returnStatus";
const std::vector<std::string> kNewLabels = {
    "PENDING_PAYMENT", "CONFIRMED",  "PICKUP_ASSIGNED",  "PICKED_UP",
    "AT_WORKSHOP",     "IN_SERVICE", "READY_FOR_RETURN", "RETURN_ASSIGNED",
    "RETURNED",        "DELIVERED",  "CANCELLED"};

class MigrationDefaultDenyTest : public PgSuite {
 protected:
  std::string Store(const std::string& name, const std::string& extra_sql) {
    const std::string url = *pg_->CreateDatabase(name);
    PsqlRun load = RunPsqlFile(*pg_, url, FixturePath("prisma_booking_store.sql"), {"rows=300"});
    EXPECT_EQ(load.exit_code, 0) << load.output;
    if (!extra_sql.empty()) Exec(url, extra_sql);
    return url;
  }

  MigratorRun Migrate(const std::string& url, std::vector<std::string> args, int expected = 0) {
    args.push_back("--progress=lines");
    MigratorRun run = RunMigrator(*pg_, url, "", args);
    EXPECT_EQ(run.exit_code, expected) << args[0] << ":\n" << run.output;
    return run;
  }

  void Forward(const std::string& url) {
    Migrate(url, {"up", "--store", "booking"});
    Migrate(url, {"expand"});
    Migrate(url, {"backfill", "--in-service-rule", kRule});
    Migrate(url, {"verify"});
  }
};

// Writers keep setting both columns of the long-named table to new labels
// while contract copies, syncs and swaps them: every committed write is
// there afterwards, in both columns.
TEST_F(MigrationDefaultDenyTest, LongNamesLoseNoWriteToAnyColumnDuringContract) {
  const std::string table = absl::StrCat("\"", kTable, "\"");
  const std::string url =
      Store("long_names",
            absl::StrCat("CREATE TABLE ", table, " (id INT PRIMARY KEY, \"", kColumnA,
                         "\" \"BookingStatus\" NOT NULL, \"", kColumnB,
                         "\" \"BookingStatus\"); INSERT INTO ", table,
                         " SELECT i, 'CONFIRMED', 'DELIVERED' FROM generate_series(1, 20000) i"));
  Forward(url);
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::map<int, std::pair<std::string, std::string>> last;  // id -> (a, b)
  std::atomic<int64_t> errors{0};
  const auto write = [&](int seed) {
    pqxx::connection conn(url);
    std::mt19937 rng(seed);
    while (!stop.load()) {
      const int id = 1 + static_cast<int>(rng() % 20000);
      const std::string a = kNewLabels[rng() % kNewLabels.size()];
      const std::string b = kNewLabels[rng() % kNewLabels.size()];
      try {
        pqxx::work w(conn);
        w.exec_params(absl::StrCat("UPDATE ", table, " SET \"", kColumnA, "\" = $1, \"", kColumnB,
                                   "\" = $2 WHERE id = $3"),
                      a, b, id);
        w.commit();
        std::lock_guard<std::mutex> lock(mu);
        last[id] = {a, b};
      } catch (const std::exception& e) {
        ++errors;  // a commit whose outcome is unknown is not recorded
      }
    }
  };
  std::thread w1(write, 1), w2(write, 2);
  Migrate(url, {"contract", "--compatibility-window", "0s", "--batch-size", "500"});
  stop = true;
  w1.join();
  w2.join();
  EXPECT_EQ(errors.load(), 0);
  ASSERT_GT(last.size(), 100u) << "the writers hardly wrote during contract";
  pqxx::connection conn(url);
  pqxx::read_transaction r(conn);
  int lost = 0;
  for (const pqxx::row& row : r.exec(absl::StrCat("SELECT id, \"", kColumnA, "\"::text, \"",
                                                  kColumnB, "\"::text FROM ", table))) {
    auto it = last.find(row[0].as<int>());
    if (it == last.end()) continue;
    if (row[1].as<std::string>() != it->second.first ||
        row[2].as<std::string>() != it->second.second) {
      if (++lost <= 5) {
        ADD_FAILURE() << "row " << row[0].c_str() << " holds (" << row[1].c_str() << ", "
                      << row[2].c_str() << "), last written (" << it->second.first << ", "
                      << it->second.second << ")";
      }
    }
  }
  EXPECT_EQ(lost, 0) << "of " << last.size() << " rows written during contract";
}

// "Booking"'s row type kept as a column elsewhere: `up` refuses before it
// changes anything (PostgreSQL would refuse its ALTER TABLE, and contract
// would leave the stored rows' status NULL), and says what to do.
TEST_F(MigrationDefaultDenyTest, UpRefusesBookingRowsStoredAsValues) {
  const std::string url = Store(
      "booking_rows", R"(CREATE TABLE "BookingAudit" (at TIMESTAMP(3) DEFAULT now(), old "Booking");
                         INSERT INTO "BookingAudit" (old) SELECT b FROM "Booking" b LIMIT 10)");
  MigratorRun up = Migrate(url, {"up", "--store", "booking"}, 6);
  EXPECT_THAT(up.output, HasSubstr(R"("BookingAudit".old)"));
  EXPECT_THAT(up.output, HasSubstr("jsonb"));
  EXPECT_EQ(QueryValue(url, R"(SELECT to_regclass('"MigrationLedger"') IS NULL)"), "t");
  EXPECT_EQ(QueryCount(url, R"(SELECT count(*) FROM pg_attribute
                               WHERE attrelid = '"Booking"'::regclass AND attname = 'version')"),
            0);
  Exec(url, R"(ALTER TABLE "BookingAudit" ALTER COLUMN old TYPE jsonb USING to_jsonb(old))");
  Migrate(url, {"up", "--store", "booking"});
  // Added after `up`: the plan refuses it, and expand changes nothing.
  Exec(url, R"(CREATE TABLE "BookingAudit2" (old "Booking"))");
  MigratorRun plan = Migrate(url, {"plan"}, 6);
  EXPECT_THAT(plan.output, HasSubstr(R"(REFUSED row value column "BookingAudit2".old)"));
  Migrate(url, {"expand"}, 6);
  EXPECT_EQ(QueryValue(url, R"(SELECT phase FROM "StatusMigration")"), "none");
}

// A session that ran a PL/pgSQL trigger (a variable of the type, a
// comparison with a label) before a swap writes again right after it: the
// swap makes every session recompile the function.
TEST_F(MigrationDefaultDenyTest, CachedPlpgsqlPlansSurviveEverySwap) {
  const std::string url = Store("cached_plans", R"(
      CREATE TABLE "StatusLog" (id TEXT, status TEXT, confirmed BOOLEAN);
      CREATE FUNCTION log_status() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE s "BookingStatus";
      BEGIN
        s := NEW.status;
        INSERT INTO "StatusLog" VALUES (NEW.id, s::text, NEW.status = 'CONFIRMED');
        RETURN NEW;
      END $$;
      CREATE TRIGGER "Booking_log_status" BEFORE UPDATE ON "Booking"
        FOR EACH ROW EXECUTE FUNCTION log_status();)");
  pqxx::connection session(url);  // the application's session, kept across the change
  const auto touch = [&](const std::string& after) {
    try {
      pqxx::work w(session);
      w.exec(R"(UPDATE "Booking" SET "updatedAt" = now() WHERE id = 'bk-00000002')");
      w.commit();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "the session's write after " << after << " failed: " << e.what();
    }
  };
  touch("nothing");
  Forward(url);
  touch("verify");
  Migrate(url, {"contract", "--compatibility-window", "0s"});
  touch("contract");
  touch("contract, again");
  Migrate(url, {"rollback", "contract"});
  touch("rollback contract");
  Migrate(url, {"rollback", "backfill"});
  touch("rollback backfill");
  Migrate(url, {"rollback", "expand"});
  touch("rollback expand");
  EXPECT_EQ(QueryCount(url, R"(SELECT count(*) FROM "StatusLog")"), 7);
}

// A CHECK made during the window naming a new label without the others of
// its status: rolling back the backfill would write IN_WORKSHOP where the
// check tells IN_SERVICE and AT_WORKSHOP apart; the rollback refuses before
// it changes anything, and runs once the check names the whole status.
TEST_F(MigrationDefaultDenyTest, ARollbackNoDirectionOfACheckCouldKeepIsRefused) {
  const std::string url = Store("rollback_check", "");
  Forward(url);
  Exec(url, R"(ALTER TABLE "Booking" ADD CONSTRAINT "Booking_in_service_started"
               CHECK (status <> 'IN_SERVICE' OR "workStartedAt" IS NOT NULL))");
  MigratorRun refused = Migrate(url, {"rollback", "backfill"}, 6);
  EXPECT_THAT(refused.output, HasSubstr("Booking_in_service_started"));
  EXPECT_THAT(refused.output, HasSubstr("name all of IN_WORKSHOP, AT_WORKSHOP, IN_SERVICE"));
  EXPECT_EQ(QueryValue(url, R"(SELECT phase || ' ' || "writeLabels" FROM "StatusMigration")"),
            "verified new");
  Exec(url, R"(ALTER TABLE "Booking" DROP CONSTRAINT "Booking_in_service_started")");
  Migrate(url, {"rollback", "backfill"});
}

// A value the migrator would leave behind fails verify, and contract does
// not start: here an array of the type made after backfill, holding an old
// label inside.
TEST_F(MigrationDefaultDenyTest, VerifyLooksInsideValuesHoldingTheType) {
  const std::string url = Store("verify_inside", "");
  Forward(url);
  Exec(url, R"(CREATE TABLE "StatusTrail" (id INT, trail "BookingStatus"[]);
               INSERT INTO "StatusTrail" VALUES (1, ARRAY['CONFIRMED', 'IN_WORKSHOP']::"BookingStatus"[]))");
  MigratorRun verify = Migrate(url, {"verify"}, 5);
  EXPECT_THAT(verify.output, HasSubstr(R"(1 rows of "StatusTrail".trail)"));
  EXPECT_THAT(verify.output, HasSubstr("the plan refuses array column"));
  Migrate(url, {"contract", "--compatibility-window", "0s"}, 6);
  EXPECT_EQ(QueryValue(url, R"(SELECT phase FROM "StatusMigration")"), "verified");
}

// The store in a schema the migrator's role cannot even look into: refused,
// naming the grant, not taken for a missing store (nor a new one made beside it).
TEST_F(MigrationDefaultDenyTest, AStoreTheRoleCannotSeeIntoIsRefusedNamingTheGrant) {
  const std::string url = *pg_->CreateDatabase("no_usage");
  Exec(url, R"(CREATE ROLE deny_migrator LOGIN; CREATE SCHEMA app;
               CREATE TYPE app."BookingStatus" AS ENUM ('PENDING_PAYMENT', 'CONFIRMED');
               CREATE TABLE app."Booking" (id TEXT PRIMARY KEY, status app."BookingStatus",
                                           "updatedAt" TIMESTAMP(3));
               GRANT CREATE ON DATABASE no_usage TO deny_migrator)");
  const std::string as_role = absl::StrReplaceAll(url, {{"postgres@", "deny_migrator@"}});
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"up", "--store", "booking"}, {"plan"}, {"expand"}}) {
    MigratorRun run = Migrate(as_role, args, 6);
    EXPECT_THAT(run.output, HasSubstr("GRANT USAGE ON SCHEMA app TO deny_migrator"));
  }
  EXPECT_EQ(QueryCount(url, R"(SELECT count(*) FROM pg_class WHERE relname = 'MigrationLedger')"),
            0);
}

}  // namespace
}  // namespace booking::testing
