// The original plan (../shared/seeds/000_*.txt, its SQL kept verbatim in
// tests/fixtures/seed_plan/) applied to a database of its own shape fails as
// DESIGN.md section 5 says; the same database taken through our phases ends
// in exactly the expected state for every old label.
#include <map>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/fixtures.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/pg_suite.h"

namespace booking::testing {
namespace {

class SeedPlanTest : public PgSuite {
 protected:
  // A fresh database in the seed's shape.
  std::string SeedShapedStore(const std::string& name) {
    auto url = pg_->CreateDatabase(name);
    EXPECT_TRUE(url.ok()) << url.status();
    PsqlRun load = RunPsqlFile(*pg_, *url, FixturePath("seed_shape.sql"));
    EXPECT_EQ(load.exit_code, 0) << load.output;
    return *url;
  }

  PsqlRun Seed(const std::string& url, const std::string& step) {
    return RunPsqlFile(*pg_, url, FixturePath("seed_plan/" + step));
  }

  // The plan's expand and data migration, with defect 1 fixed by hand.
  void SeedDataMigrated(const std::string& url) {
    ASSERT_EQ(Seed(url, "1_expand.sql").exit_code, 0);
    Exec(url, R"(ALTER TYPE "BookingStatus" ADD VALUE 'AT_WORKSHOP')");
    ASSERT_EQ(Seed(url, "2_data_migration.sql").exit_code, 0);
  }
};

TEST_F(SeedPlanTest, Defect1_DataMigrationUsesALabelExpandNeverAdded) {
  const std::string url = SeedShapedStore("seed1");
  ASSERT_EQ(Seed(url, "1_expand.sql").exit_code, 0);
  const std::string before = QueryText(url, R"(SELECT id, status FROM "Booking" ORDER BY id)");
  PsqlRun data = Seed(url, "2_data_migration.sql");
  EXPECT_NE(data.exit_code, 0);
  EXPECT_NE(data.output.find(R"(invalid input value for enum "BookingStatus": "AT_WORKSHOP")"),
            std::string::npos)
      << data.output;
  // The transaction rolled back: nothing migrated.
  EXPECT_EQ(QueryText(url, R"(SELECT id, status FROM "Booking" ORDER BY id)"), before);
}

TEST_F(SeedPlanTest, Defect2_ContractCannotCastTheDefault) {
  const std::string url = SeedShapedStore("seed2");
  ASSERT_NO_FATAL_FAILURE(SeedDataMigrated(url));
  PsqlRun contract = Seed(url, "3_contract.sql");
  EXPECT_NE(contract.exit_code, 0);
  EXPECT_NE(contract.output.find(R"(default for column "status" cannot be cast automatically)"),
            std::string::npos)
      << contract.output;
}

TEST_F(SeedPlanTest, Defect3_DropTypeFailsOnTheBackupTable) {
  const std::string url = SeedShapedStore("seed3");
  ASSERT_NO_FATAL_FAILURE(SeedDataMigrated(url));
  Exec(url, R"(ALTER TABLE "Booking" ALTER COLUMN status DROP DEFAULT)");  // past defect 2
  PsqlRun contract = Seed(url, "3_contract.sql");
  EXPECT_NE(contract.exit_code, 0);
  EXPECT_NE(contract.output.find(
                R"(cannot drop type "BookingStatus" because other objects depend on it)"),
            std::string::npos)
      << contract.output;
  EXPECT_NE(contract.output.find("Booking_Status_Migration_Backup"), std::string::npos)
      << contract.output;
}

TEST_F(SeedPlanTest, Defect4_RollbackUndoesTransitionsMadeSince) {
  const std::string url = SeedShapedStore("seed4");
  ASSERT_NO_FATAL_FAILURE(SeedDataMigrated(url));
  // After the migration, a booking moves on: its driver picked the car up.
  ASSERT_EQ(QueryValue(url, R"(SELECT status FROM "Booking" WHERE id = 'bk-00000002')"),
            "PICKUP_ASSIGNED");
  Exec(url, R"(UPDATE "Booking" SET status = 'PICKED_UP', "updatedAt" = now()
               WHERE id = 'bk-00000002')");
  ASSERT_EQ(Seed(url, "4_rollback.sql").exit_code, 0);
  // The seed's rollback restores the backup over every row: the pickup is lost.
  EXPECT_EQ(QueryValue(url, R"(SELECT status FROM "Booking" WHERE id = 'bk-00000002')"),
            "JOCKEY_ASSIGNED");
}

TEST_F(SeedPlanTest, Defect5_ContractRewritesTheWholeTable) {
  const std::string url = SeedShapedStore("seed5");
  ASSERT_NO_FATAL_FAILURE(SeedDataMigrated(url));
  Exec(url, R"(ALTER TABLE "Booking" ALTER COLUMN status DROP DEFAULT)");
  Exec(url, R"(DROP TABLE "Booking_Status_Migration_Backup")");  // past defect 3
  const std::string before =
      QueryValue(url, R"(SELECT relfilenode FROM pg_class WHERE relname = 'Booking')");
  ASSERT_EQ(Seed(url, "3_contract.sql").exit_code, 0);
  // ALTER COLUMN ... TYPE wrote a new copy of the table (a new relfilenode)
  // under ACCESS EXCLUSIVE: every writer waits for the whole rewrite.
  EXPECT_NE(QueryValue(url, R"(SELECT relfilenode FROM pg_class WHERE relname = 'Booking')"),
            before);
}

TEST_F(SeedPlanTest, OurPhasesReachTheExpectedStateForEveryOldLabel) {
  const std::string url = SeedShapedStore("ours");
  const std::string history = *pg_->CreateDatabase("ours_history");
  const std::string relfilenode_before =
      QueryValue(url, R"(SELECT relfilenode FROM pg_class WHERE relname = 'Booking')");
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"up"}, {"expand"}, {"backfill"}, {"verify"}, {"contract", "--force"}}) {
    MigratorRun run = RunMigrator(*pg_, url, history, args);
    ASSERT_EQ(run.exit_code, 0) << args[0] << ":\n" << run.output;
  }
  // Booking i held old label number 1 + i % 9; every one is now its mapping.
  const std::map<std::string, std::string> expected = {
      {"PENDING_PAYMENT", "PENDING_PAYMENT"},
      {"CONFIRMED", "CONFIRMED"},
      {"JOCKEY_ASSIGNED", "PICKUP_ASSIGNED"},
      {"IN_TRANSIT_TO_WORKSHOP", "PICKED_UP"},
      {"IN_WORKSHOP", "AT_WORKSHOP"},
      {"COMPLETED", "READY_FOR_RETURN"},
      {"IN_TRANSIT_TO_CUSTOMER", "RETURN_ASSIGNED"},
      {"DELIVERED", "DELIVERED"},
      {"CANCELLED", "CANCELLED"}};
  const std::vector<std::string> old_order = {
      "PENDING_PAYMENT",        "CONFIRMED",   "JOCKEY_ASSIGNED",
      "IN_TRANSIT_TO_WORKSHOP", "IN_WORKSHOP", "COMPLETED",
      "IN_TRANSIT_TO_CUSTOMER", "DELIVERED",   "CANCELLED"};
  std::string want;
  for (int i = 1; i <= 90; ++i) {
    char id[16];
    std::snprintf(id, sizeof(id), "bk-%08d", i);
    absl::StrAppend(&want, id, "|", expected.at(old_order[i % 9]), "|\n");
  }
  EXPECT_EQ(QueryText(url, R"(SELECT id, status FROM "Booking" ORDER BY id)"), want);
  EXPECT_EQ(QueryValue(url, R"(SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder)
                              FROM pg_enum WHERE enumtypid = '"BookingStatus"'::regtype)"),
            "PENDING_PAYMENT,CONFIRMED,PICKUP_ASSIGNED,PICKED_UP,AT_WORKSHOP,IN_SERVICE,"
            "READY_FOR_RETURN,RETURN_ASSIGNED,RETURNED,DELIVERED,CANCELLED");
  // The default, the index and the backup survive; "updatedAt" is untouched
  // (a relabelling is not a business change) and the table was not rewritten.
  EXPECT_EQ(QueryValue(url, R"(SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
                              JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
                              WHERE d.adrelid = '"Booking"'::regclass AND a.attname = 'status')"),
            R"('PENDING_PAYMENT'::"BookingStatus")");
  EXPECT_EQ(
      QueryValue(url, R"(SELECT indexdef FROM pg_indexes WHERE indexname = 'Booking_status_idx')"),
      R"(CREATE INDEX "Booking_status_idx" ON public."Booking" USING btree (status))");
  EXPECT_EQ(QueryValue(url, R"(SELECT count(*) FROM "Booking_Status_Migration_Backup")"), "90");
  EXPECT_EQ(QueryValue(url, R"(SELECT count(*) FROM "Booking"
                              WHERE "updatedAt" <> timestamp '2026-01-02' +
                                    substr(id, 4)::int * interval '1 minute')"),
            "0");
  EXPECT_EQ(QueryValue(url, R"(SELECT relfilenode FROM pg_class WHERE relname = 'Booking')"),
            relfilenode_before);
  // Every relabel kept its booking's status (no --in-service-rule): a new
  // label, not a status change, so no history event and no version bump.
  EXPECT_EQ(QueryValue(url, R"(SELECT count(*) FROM "BookingOutbox")"), "0");
  EXPECT_EQ(QueryValue(url, R"(SELECT count(*) FROM "Booking" WHERE version <> 0)"), "0");
}

}  // namespace
}  // namespace booking::testing
