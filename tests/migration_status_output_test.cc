// What the migrator prints, phase by phase (issue 23): status and plan say
// the truth in every phase (none, expanded, backfilled, verified, contracted,
// and after a rollback); expand prints the plan's summary, not the plan;
// contract before backfill names the whole way there; every "next: run"
// command pastes into bash as the argv it stands for; and with stdout and
// stderr in one file under LOG_LEVEL=debug, every line is either one whole
// JSON log record or one whole human line, with no ANSI escape (the output
// is not a terminal).
#include <stdlib.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/shell_quote.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/support/fixtures.h"
#include "tests/support/pg_suite.h"
#include "tests/support/process.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"

namespace booking::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Valid SQL on "Booking" (the same bookings as "workStartedAt" IS NOT NULL)
// holding everything a shell treats specially.
constexpr char kHostileRule[] =
    R"("workStartedAt" IS NOT NULL AND "customerId" <> 'O''Brien $HOME `id` $(id) \ ! * ;x')";

// Lines that are not whole: a log record inside a human line, or a human
// line inside a record.
std::vector<std::string> BrokenLines(const std::string& output) {
  std::vector<std::string> broken;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (!absl::StrContains(line, "{\"time\":")) continue;
    google::protobuf::Struct record;
    const bool whole =
        absl::StartsWith(line, "{\"time\":") &&
        google::protobuf::util::JsonStringToMessage(std::string(line), &record).ok() &&
        record.fields().count("msg") == 1;
    if (!whole) broken.emplace_back(line);
  }
  return broken;
}

std::string PasteLog() { return ::testing::TempDir() + "/migration_status_output_paste.log"; }

// The command after "next: run " on the output's last such line.
std::string NextCommandLine(const std::string& output) {
  std::string command;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::ConsumePrefix(&line, "next: run ")) command = std::string(line);
  }
  return command;
}

class MigrationStatusOutputTest : public PgSuite {
 protected:
  static void SetUpTestSuite() {
    // Every migrator run logs a record per committed step: many records
    // written between the lines of stdout.
    setenv("LOG_LEVEL", "debug", 1);
    PgSuite::SetUpTestSuite();
  }

  void SetUp() override {
    PgSuite::SetUp();
    if (HasFatalFailure()) return;
    booking_ = *pg_->CreateDatabase("output");
    history_ = *pg_->CreateDatabase("output_history");
    PsqlRun load =
        RunPsqlFile(*pg_, booking_, FixturePath("prisma_booking_store.sql"), {"rows=300"});
    ASSERT_EQ(load.exit_code, 0) << load.output;
    Run({"up"});
  }

  // Runs the migrator (stdout and stderr into one file); checks the exit
  // code, that every line is whole and that no escape sequence was written.
  std::string Run(std::vector<std::string> args, int expected_exit = 0) {
    MigratorRun run = RunMigrator(*pg_, booking_, history_, args);
    const std::string what = absl::StrJoin(args, " ");
    EXPECT_EQ(run.exit_code, expected_exit) << what << ":\n" << run.output;
    EXPECT_THAT(BrokenLines(run.output), ::testing::IsEmpty()) << what << ":\n" << run.output;
    EXPECT_EQ(run.output.find('\x1b'), std::string::npos) << what << ":\n" << run.output;
    return run.output;
  }

  // status and plan at one phase, their key lines.
  void ExpectStatus(const std::string& phase, const std::string& writers) {
    const std::string status = Run({"status", "--store", "booking"});
    EXPECT_THAT(status, HasSubstr("status migration: phase " + phase + " ")) << status;
    EXPECT_THAT(status, HasSubstr("  writers write:     the " + writers + " labels")) << status;
  }

  void AtNone();
  void Expand();
  void PasteBackfill();
  void ContractAndRollBack();

  std::string booking_;
  std::string history_;
};

// none: the writers are the old code; the plan carries everything;
// contract names every step before it.
void MigrationStatusOutputTest::AtNone() {
  ExpectStatus("none", "old");
  EXPECT_THAT(Run({"status", "--store", "booking"}), HasSubstr("(expand has not run"));
  const std::string plan = Run({"plan"});
  EXPECT_THAT(plan, HasSubstr("(phase none)"));
  EXPECT_THAT(plan, HasSubstr("plan: every object can be carried through every phase\n"));
  EXPECT_THAT(plan, HasSubstr("    expand/backfill: "));
  EXPECT_THAT(Run({"contract"}, 6),
              HasSubstr("expand has not run (phase is none): run `migrator expand`, then "
                        "`migrator backfill`, then `migrator verify`, then `migrator contract`"));
}

// expand: the plan's summary and where the plan is, not the plan.
void MigrationStatusOutputTest::Expand() {
  const std::string out = Run({"expand"});
  EXPECT_THAT(out, HasSubstr(" carried, 0 refused"));
  EXPECT_THAT(out, HasSubstr("`migrator plan`"));
  EXPECT_THAT(out, Not(HasSubstr("    expand/backfill: ")));
  EXPECT_EQ(NextCommandLine(out), "migrator backfill");
  // stdout is written a line at a time: its lines stand where they were said
  // among the log records, not all at the end.
  const size_t said = out.find("expand: add labels");
  const size_t recorded = out.find(R"("step":"record plan")");
  ASSERT_NE(said, std::string::npos) << out;
  ASSERT_NE(recorded, std::string::npos) << out;
  EXPECT_LT(said, recorded) << out;
  ExpectStatus("expanded", "new");
  EXPECT_THAT(Run({"plan"}),
              HasSubstr("plan: every object can be carried through the phases still to run"));
  EXPECT_THAT(Run({"contract"}, 6),
              HasSubstr("backfill has not run (phase is expanded): run `migrator backfill`, "
                        "then `migrator verify`, then `migrator contract`"));
}

// The echoed backfill command pastes as it was given, hostile rule and all:
// pasted into bash, with `migrator` the binary, it runs and backfills.
void MigrationStatusOutputTest::PasteBackfill() {
  const std::string out =
      Run({"backfill", "--dry-run", "--in-service-rule", kHostileRule, "--batch-size", "50"});
  const std::string echoed = NextCommandLine(out);
  ASSERT_FALSE(echoed.empty()) << out;
  EXPECT_EQ(echoed,
            ShellCommand({"migrator", "backfill", absl::StrCat("--in-service-rule=", kHostileRule),
                          "--batch-size=50"}));
  absl::StatusOr<int> pasted =
      RunCommand({"/bin/bash", "-c",
                  absl::StrCat("migrator() { ", ShellQuote(MigratorBin()), " \"$@\"; }; ", echoed)},
                 {"BOOKING_DATABASE_URL=" + booking_, "HISTORY_DATABASE_URL=" + history_},
                 PasteLog(), absl::Minutes(5));
  ASSERT_TRUE(pasted.ok()) << pasted.status();
  EXPECT_EQ(*pasted, 0) << ReadFile(PasteLog());
  EXPECT_EQ(QueryValue(booking_, R"(SELECT count(*) FROM "Booking" WHERE status = 'IN_SERVICE')"),
            QueryValue(booking_, R"(SELECT count(*) FROM "Booking_Status_Migration_Backup"
                                    WHERE status = 'IN_WORKSHOP' AND id IN (SELECT id FROM
                                    "Booking" WHERE "workStartedAt" IS NOT NULL))"));
  ExpectStatus("backfilled", "new");
  EXPECT_THAT(Run({"contract"}, 6),
              HasSubstr("verify has not passed (phase is backfilled): run `migrator verify`, "
                        "then `migrator contract`"));
}

// verify, contract: the plan has nothing to do; then every rollback.
void MigrationStatusOutputTest::ContractAndRollBack() {
  const std::string out = Run({"verify"});
  EXPECT_THAT(out, HasSubstr("contract waits for the compatibility window"));
  EXPECT_EQ(NextCommandLine(out), "migrator contract");
  ExpectStatus("verified", "new");
  Run({"contract", "--compatibility-window", "0s"});
  ExpectStatus("contracted", "new");
  const std::string plan = Run({"plan"});
  EXPECT_THAT(plan, HasSubstr("plan: nothing to do: the change is complete")) << plan;
  EXPECT_THAT(plan, Not(HasSubstr("every object can be carried"))) << plan;
  EXPECT_THAT(plan, Not(HasSubstr("    expand/backfill: "))) << plan;
  Run({"rollback", "contract"});
  ExpectStatus("verified", "new");
  EXPECT_THAT(Run({"plan"}),
              HasSubstr("plan: every object can be carried through the phases still to run"));
  // A progress bar (forced: the output is no terminal) redrawn in place
  // while records are written: each record starts a line of its own.
  Run({"rollback", "backfill", "--progress", "bar", "--batch-size", "20"});
  ExpectStatus("expanded", "old");
  Run({"rollback", "expand"});
  ExpectStatus("none", "old");
  EXPECT_THAT(Run({"plan"}), HasSubstr("plan: every object can be carried through every phase\n"));
}

TEST_F(MigrationStatusOutputTest, EveryPhaseSaysTheTruth) {
  AtNone();
  Expand();
  PasteBackfill();
  if (HasFatalFailure()) return;
  ContractAndRollBack();
}

}  // namespace
}  // namespace booking::testing
