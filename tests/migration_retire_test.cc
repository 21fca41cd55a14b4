// Contract drops the old status column's indexes CONCURRENTLY once their
// replacements are built, just before the swap (so the swap's COMMIT frees
// no index file under its ACCESS EXCLUSIVE lock: migrator/status_enum/
// retire.h). A DROP INDEX CONCURRENTLY cut off after its first step leaves
// the index invalid, a state the fault matrix's kills between statements
// never produce. From that state, with the replacement built:
// - rolling contract back builds the index again as expand left it
//   (widened, valid), leaves nothing of the migrator's behind, and contract
//   then runs to the end;
// - rerunning contract finishes the drop and swaps the replacement in under
//   the original name.
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/fixtures.h"
#include "tests/support/kill_steps.h"
#include "tests/support/pg_suite.h"
#include "tests/support/sql.h"

namespace booking::testing {
namespace {

constexpr char kIndex[] = "Booking_workshop_idx";
constexpr char kDefinitionSql[] =
    R"(SELECT pg_get_indexdef(indexrelid) || ' valid=' || indisvalid FROM pg_index
       WHERE indexrelid = to_regclass('"Booking_workshop_idx"'))";
const std::vector<std::string> kContract = {"contract", "--compatibility-window", "0s"};

class MigrationRetireTest : public PgSuite {
 protected:
  void SetUp() override {
    static int databases = 0;
    booking_ = *pg_->CreateDatabase(absl::StrCat("retire", ++databases));
    PsqlRun load =
        RunPsqlFile(*pg_, booking_, FixturePath("prisma_booking_store.sql"), {"rows=300"});
    ASSERT_EQ(load.exit_code, 0) << load.output;
    for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
             {"up", "--store", "booking"},
             {"expand"},
             {"backfill", "--in-service-rule", R"("workStartedAt" IS NOT NULL)"},
             {"verify"}}) {
      ASSERT_NO_FATAL_FAILURE(Migrate(args, 0));
    }
  }

  void Migrate(const std::vector<std::string>& args, int expected, const std::string& fault = "") {
    last_ = RunMigratorWithFault(*pg_, booking_, args, fault);
    ASSERT_EQ(last_.exit_code, expected) << args[0] << " (" << fault << "):\n" << last_.output;
  }

  // Contract stopped at the index's drop, the drop's first step (the index
  // marked invalid, committed) done as PostgreSQL does it.
  void InterruptTheDrop() {
    ASSERT_NO_FATAL_FAILURE(
        Migrate(kContract, 8,
                absl::StrCat("fail-ddl-matching=DROP INDEX CONCURRENTLY IF EXISTS public.\"",
                             kIndex, "\"")));
    ASSERT_NE(last_.output.find("injected failure"), std::string::npos) << last_.output;
    ASSERT_EQ(QueryValue(booking_, R"(SELECT indisvalid::text FROM pg_index
                                      WHERE indexrelid = to_regclass('"Booking_workshop_idx__next"'))"),
              "true")
        << "the replacement is not built: the test shows nothing";
    Exec(booking_, R"(UPDATE pg_index SET indisvalid = false
                      WHERE indexrelid = '"Booking_workshop_idx"'::regclass)");
  }

  // Contract runs to the end: the index holds the narrowed predicate under
  // its own name, and nothing of the migrator's is left.
  void ContractAndExpectTheReplacementSwappedIn() {
    ASSERT_NO_FATAL_FAILURE(Migrate(kContract, 0));
    EXPECT_EQ(
        QueryValue(booking_, kDefinitionSql),
        R"(CREATE INDEX "Booking_workshop_idx" ON public."Booking" USING btree ("updatedAt") )"
        R"(WHERE (status = ANY (ARRAY['AT_WORKSHOP'::"BookingStatus", 'IN_SERVICE'::"BookingStatus"])) valid=true)");
    EXPECT_EQ(MigratorLeftovers(booking_), "");
  }

  std::string booking_;
  FaultRun last_;
};

TEST_F(MigrationRetireTest, RollbackRebuildsAnIndexLeftInvalidAndContractThenFinishes) {
  const std::string before = QueryValue(booking_, kDefinitionSql);
  ASSERT_NE(before.find("valid=true"), std::string::npos) << before;
  ASSERT_NO_FATAL_FAILURE(InterruptTheDrop());

  ASSERT_NO_FATAL_FAILURE(Migrate({"rollback", "contract"}, 0));
  EXPECT_EQ(QueryValue(booking_, kDefinitionSql), before);
  EXPECT_EQ(MigratorLeftovers(booking_), "");

  ASSERT_NO_FATAL_FAILURE(ContractAndExpectTheReplacementSwappedIn());
}

TEST_F(MigrationRetireTest, RerunningContractFinishesTheDropAndSwapsTheReplacementIn) {
  ASSERT_NO_FATAL_FAILURE(InterruptTheDrop());

  ASSERT_NO_FATAL_FAILURE(ContractAndExpectTheReplacementSwappedIn());
}

}  // namespace
}  // namespace booking::testing
