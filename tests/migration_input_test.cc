// What an operator hands the migrator is SQL text or names it builds SQL
// from: none of it may change the statements it runs.
// - Names that need quoting (quotes, spaces, non-ASCII letters, names whose
//   suffixed shadows would cut a UTF-8 character) are carried through every
//   phase and back exactly.
// - --in-service-rule is one boolean condition over "Booking" or a usage
//   error (exit 2) before anything changes; a second statement smuggled in
//   never runs.
// - Exit codes say whether a retry helps (refused: 6, usage: 2).
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/fixtures.h"
#include "tests/support/pg_suite.h"

namespace booking::testing {
namespace {

// Rows and catalog of the odd-named table, and of "Booking".
constexpr char kState[] = R"(
  SELECT md5(string_agg(concat_ws('|', id, "bookingId", "for ""status"""), ',' ORDER BY id))
  FROM "Driver ""Task"" ü"
  UNION ALL SELECT md5(string_agg(concat_ws('|', id, status, "updatedAt"), ',' ORDER BY id))
  FROM "Booking"
  UNION ALL SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum
  WHERE enumtypid = '"BookingStatus"'::regtype
  UNION ALL SELECT string_agg(pg_get_indexdef(indexrelid), E'\n' ORDER BY indexrelid::regclass::text)
  FROM pg_index WHERE indrelid = '"Driver ""Task"" ü"'::regclass
  UNION ALL SELECT pg_get_viewdef('"O''Brien ""workshop"" view"'::regclass)
  UNION ALL SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), E'\n' ORDER BY conname)
  FROM pg_constraint WHERE conrelid = '"Driver ""Task"" ü"'::regclass
  UNION ALL SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
  JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
  WHERE d.adrelid = '"Driver ""Task"" ü"'::regclass AND a.attname = 'for "status"')";

class MigrationInputTest : public PgSuite {
 protected:
  std::string Store(const std::string& name) {
    const std::string url = *pg_->CreateDatabase(name);
    for (const char* f : {"prisma_booking_store.sql", "odd_names.sql"}) {
      PsqlRun load = RunPsqlFile(*pg_, url, FixturePath(f), {"rows=300"});
      EXPECT_EQ(load.exit_code, 0) << f << ": " << load.output;
    }
    Migrate(url, {"up", "--store", "booking"});
    return url;
  }

  MigratorRun Migrate(const std::string& url, std::vector<std::string> args, int expected = 0) {
    MigratorRun run = RunMigrator(*pg_, url, "", args);
    EXPECT_EQ(run.exit_code, expected) << args[0] << ":\n" << run.output;
    return run;
  }
};

TEST_F(MigrationInputTest, NamesThatNeedQuotingAreCarriedThereAndBackExactly) {
  const std::string url = Store("odd_names");
  const std::string original = QueryText(url, kState);
  const std::string in_workshop =
      QueryValue(url, R"(SELECT count(*) FROM "O'Brien ""workshop"" view")");
  ASSERT_NE(in_workshop, "0");
  for (std::vector<std::string> phase : std::vector<std::vector<std::string>>{
           {"expand"}, {"backfill"}, {"verify"}, {"contract", "--compatibility-window=0s"}}) {
    Migrate(url, phase);
    EXPECT_EQ(QueryValue(url, R"(SELECT count(*) FROM "O'Brien ""workshop"" view")"), in_workshop)
        << "after " << phase[0];
  }
  EXPECT_EQ(QueryValue(url, R"(SELECT count(*) FROM "Driver ""Task"" ü"
                               WHERE "for ""status""" = 'PICKUP_ASSIGNED')"),
            QueryValue(url, R"(SELECT count(*) FROM "Booking" WHERE status = 'PICKUP_ASSIGNED')"));
  for (const char* undo : {"contract", "backfill", "expand"}) {
    Migrate(url, {"rollback", undo});
    EXPECT_EQ(QueryValue(url, R"(SELECT count(*) FROM "O'Brien ""workshop"" view")"), in_workshop)
        << "after rollback " << undo;
  }
  EXPECT_EQ(QueryText(url, kState), original);
  EXPECT_EQ(QueryValue(url, R"(SELECT count(*) FROM pg_class
                               WHERE relname LIKE '%\_\_next%' OR relname LIKE '%\_\_wide%')"),
            "0");
}

TEST_F(MigrationInputTest, TheInServiceRuleIsOneConditionOrAUsageError) {
  const std::string url = Store("rule");
  Migrate(url, {"expand"});
  const std::string before = QueryText(url, kState);
  for (const char* rule : {
           R"(true); DROP TABLE "Booking"; --)",        // a second statement
           R"("workStartedAt" IS NOT NULL) OR (true)",  // escapes its parentheses
           R"(true; SELECT 1)",                         // two statements
           R"(1)",                                      // not a condition
           R"("noSuchColumn" IS NULL)",                 // not over "Booking"
           R"('unterminated)",                          // not SQL
       }) {
    MigratorRun run = Migrate(url, {"backfill", "--in-service-rule", rule}, 2);
    EXPECT_NE(run.output.find("--in-service-rule"), std::string::npos) << rule << run.output;
    EXPECT_EQ(QueryText(url, kState), before) << "changed by a refused rule: " << rule;
    EXPECT_EQ(QueryValue(url, R"(SELECT phase FROM "StatusMigration")"), "expanded");
  }
  // A condition with a subquery is one condition.
  Migrate(url, {"backfill", "--in-service-rule",
                R"("workStartedAt" IS NOT NULL AND EXISTS (SELECT 1 FROM "DriverTask" d
                                                          WHERE d."bookingId" <> "Booking".id))"});
  EXPECT_EQ(QueryValue(url, R"(SELECT count(*) FROM "Booking" b
                               JOIN "Booking_Status_Migration_Backup" k USING (id)
                               WHERE k.status = 'IN_WORKSHOP' AND b.status::text <>
                                 CASE WHEN b."workStartedAt" IS NOT NULL THEN 'IN_SERVICE'
                                      ELSE 'AT_WORKSHOP' END)"),
            "0");
}

TEST_F(MigrationInputTest, AStoreElsewhereIsFoundAndNeverDuplicated) {
  const std::string url = *pg_->CreateDatabase("elsewhere");
  Exec(url, "CREATE SCHEMA app");
  PsqlRun load = RunPsqlFile(*pg_, url, FixturePath("prisma_booking_store.sql"), {"rows=300"});
  ASSERT_EQ(load.exit_code, 0) << load.output;
  Exec(url, R"(ALTER TYPE "BookingStatus" SET SCHEMA app;
               ALTER TABLE "Booking" SET SCHEMA app; ALTER TABLE "DriverTask" SET SCHEMA app;
               ALTER VIEW "ActiveBooking" SET SCHEMA app; ALTER VIEW "WorkshopQueue" SET SCHEMA app;
               ALTER VIEW "ActiveBookingCount" SET SCHEMA app)");
  Migrate(url, {"up", "--store", "booking"});
  EXPECT_EQ(QueryValue(url, R"(SELECT to_regclass('public."Booking"') IS NULL)"), "t")
      << "up created a second store in public";
  for (std::vector<std::string> phase : std::vector<std::vector<std::string>>{
           {"expand"}, {"backfill"}, {"verify"}, {"contract", "--compatibility-window=0s"}}) {
    Migrate(url, phase);
  }
  EXPECT_EQ(QueryValue(url, R"(SELECT count(*) FROM app."Booking" WHERE status::text IN
                               ('JOCKEY_ASSIGNED', 'IN_WORKSHOP', 'COMPLETED'))"),
            "0");
  EXPECT_EQ(
      QueryValue(url, R"(SELECT count(*) FROM app."Booking" WHERE status = 'READY_FOR_RETURN')"),
      "33");
  // A second "Booking" elsewhere: which store is meant is the operator's
  // call, asked for before anything changes.
  Exec(url, R"(CREATE TABLE public."Booking" (id text primary key, status text))");
  MigratorRun both = Migrate(url, {"status", "--store", "booking"}, 6);
  EXPECT_NE(both.output.find("--schema"), std::string::npos) << both.output;
  Migrate(url, {"status", "--store", "booking", "--schema", "app"});
}

}  // namespace
}  // namespace booking::testing
