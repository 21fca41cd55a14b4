// The concurrency checker: old-code and new-code writers keep changing
// statuses, each write they commit logged, through expand, backfill, verify,
// contract and every rollback. After each phase (writers paused, nothing in
// flight) every booking reads as the mapping of its last write, and holds a
// label of the set that phase promises; no writer ever saw a deadlock or an
// unexpected error. And two migrator runs on one store never interleave.
#include <cstdio>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_catalog.h"
#include "gtest/gtest.h"
#include "tests/support/fixtures.h"
#include "tests/support/label_writers.h"
#include "tests/support/pg_suite.h"
#include "tests/support/process.h"
#include "tests/support/service_set.h"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

constexpr int kRows = 1200;

enum class Held { kAny, kNoOldLabels, kNoNewLabels };

std::string ReadsAs(const LastWrite& w) {
  if (w.kind == WriterKind::kNewCode) return w.label;
  return std::string(Label(*ResolveStoredLabel(w.label)));
}

class MigrationConcurrencyTest : public PgSuite {
 protected:
  std::string Store(const std::string& name) {
    const std::string url = *pg_->CreateDatabase(name);
    PsqlRun load = RunPsqlFile(*pg_, url, FixturePath("prisma_booking_store.sql"),
                               {absl::StrCat("rows=", kRows)});
    EXPECT_EQ(load.exit_code, 0) << load.output;
    MigratorRun up = RunMigrator(*pg_, url, "", {"up", "--store", "booking"});
    EXPECT_EQ(up.exit_code, 0) << up.output;
    return url;
  }

  MigratorRun Migrate(const std::string& url, std::vector<std::string> args, int expected = 0) {
    args.push_back("--progress=lines");
    const absl::Time started = absl::Now();
    MigratorRun run = RunMigrator(*pg_, url, "", args);
    std::printf(
        "  migrator %s %s: %s\n", args[0].c_str(), args.size() > 2 ? args[1].c_str() : "",
        absl::FormatDuration(absl::Trunc(absl::Now() - started, absl::Milliseconds(1))).c_str());
    EXPECT_EQ(run.exit_code, expected) << args[0] << ":\n" << run.output;
    return run;
  }

  // Writers paused: every booking reads as its last write's mapping and
  // holds a label of the set the phase promises.
  void Check(LabelWriters& writers, const std::string& url, const std::string& after, Held held) {
    const bool old_paused = writers.paused(WriterKind::kOldCode);
    writers.Pause();
    const auto stored = StoredStatuses(url);
    int checked = 0;
    for (const auto& [id, w] : writers.LastWrites()) {
      const auto& [label, reads] = stored.at(id);
      EXPECT_EQ(reads, ReadsAs(w))
          << "after " << after << ": " << id << " last written " << w.label << " by "
          << (w.kind == WriterKind::kOldCode ? "old" : "new") << " code, holds " << label;
      if (held == Held::kNoOldLabels) {
        EXPECT_FALSE(ParseLegacyStatus(label)) << id << " " << after;
      }
      if (held == Held::kNoNewLabels) {
        EXPECT_TRUE(ParseLegacyStatus(label) || ReverseLabel(*ParseStatus(label)) == label)
            << id << " holds " << label << " after " << after;
      }
      ++checked;
    }
    EXPECT_GT(checked, 100) << after;
    EXPECT_EQ(writers.errors(), 0) << after << ": " << writers.first_error();
    std::cout << "after " << after << ": " << writers.committed() << " writes committed, "
              << writers.refused() << " refused by the phase, " << checked << " bookings checked\n";
    writers.Resume(WriterKind::kNewCode);
    if (!old_paused) writers.Resume(WriterKind::kOldCode);
  }

  void WaitForWrites(const LabelWriters& writers, int64_t more) {
    const int64_t target = writers.committed() + more;
    ASSERT_EQ(WaitFor([&] { return writers.committed() >= target; }, absl::Minutes(1),
                      "committed writes", absl::Milliseconds(5)),
              absl::OkStatus())
        << "writers made no progress: " << writers.first_error();
  }
};

TEST_F(MigrationConcurrencyTest, EveryPhaseKeepsEveryCommittedWriteOfOldAndNewCode) {
  const std::string url = Store("writers");
  // The old application names itself, so backfill can say who still writes.
  LabelWriters writers(url + "?application_name=legacy-app", kRows, 6);
  writers.Start(WriterKind::kOldCode, 3);
  WaitForWrites(writers, 100);
  Migrate(url, {"expand"});
  writers.Start(WriterKind::kNewCode, 3);
  WaitForWrites(writers, 100);

  // Old code still writes old labels: backfill gives up, naming it.
  MigratorRun stuck = Migrate(url, {"backfill", "--max-passes=2"}, 7);
  EXPECT_NE(stuck.output.find("legacy-app"), std::string::npos) << stuck.output;
  writers.Pause(WriterKind::kOldCode);  // the old application is retired
  Migrate(url, {"backfill", "--batch-size=200"});
  Check(writers, url, "backfill", Held::kNoOldLabels);
  Migrate(url, {"verify"});
  Migrate(url, {"contract", "--compatibility-window=0s"});
  Check(writers, url, "contract", Held::kNoOldLabels);

  writers.Resume(WriterKind::kOldCode);  // old labels are refused now
  WaitForWrites(writers, 50);
  Migrate(url, {"rollback", "contract"});
  Check(writers, url, "rollback contract", Held::kAny);
  Migrate(url, {"rollback", "backfill", "--batch-size=200"});
  Check(writers, url, "rollback backfill", Held::kNoNewLabels);

  writers.Pause(WriterKind::kOldCode);
  Migrate(url, {"backfill", "--batch-size=200"});
  Check(writers, url, "backfill again", Held::kNoOldLabels);
  writers.Resume(WriterKind::kOldCode);
  Migrate(url, {"rollback", "backfill"});
  Check(writers, url, "rollback backfill again", Held::kNoNewLabels);

  writers.Stop(WriterKind::kNewCode);  // booking-service is stopped for rollback expand
  Migrate(url, {"rollback", "expand"});
  writers.Pause();
  // The original labels only; the exact new status of a lossy old label is
  // gone with the new labels (old code cannot tell them apart).
  const auto stored = StoredStatuses(url);
  for (const auto& [id, w] : writers.LastWrites()) {
    const std::string expected =
        w.kind == WriterKind::kOldCode ? w.label : std::string(ReverseLabel(*ParseStatus(w.label)));
    EXPECT_EQ(stored.at(id).first, expected) << id << " after rollback expand";
  }
  EXPECT_EQ(writers.errors(), 0) << writers.first_error();
  EXPECT_GT(writers.refused(), 0) << "old labels were written while contract refused them";
}

TEST_F(MigrationConcurrencyTest, TwoRunsNeverInterleave) {
  const std::string url = Store("twice");
  Migrate(url, {"expand"});
  absl::StatusOr<Process> first =
      Process::Spawn({MigratorBin(), "backfill", "--batch-size", "50", "--throttle", "20ms"},
                     {"BOOKING_DATABASE_URL=" + url}, pg_->dir() + "/first.log");
  ASSERT_TRUE(first.ok());
  // Wait until the first run holds the store's lock.
  ASSERT_EQ(WaitFor(
                [&] {
                  return QueryCount(url, R"(SELECT count(*) FROM pg_locks
                                           WHERE locktype = 'advisory' AND granted)") > 0;
                },
                absl::Minutes(1), "the first run's advisory lock", absl::Milliseconds(5)),
            absl::OkStatus());
  // A second run that may not wait gives up with exit 3 and says why.
  MigratorRun busy = RunMigrator(*pg_, url, "", {"backfill", "--lock-wait", "0s"});
  EXPECT_EQ(busy.exit_code, 3) << busy.output;
  EXPECT_NE(busy.output.find("another migrator run holds the booking store's lock"),
            std::string::npos)
      << busy.output;
  // One that waits runs after the first and finds nothing left to do.
  MigratorRun waiting = RunMigrator(*pg_, url, "", {"backfill", "--lock-wait", "5m"});
  EXPECT_EQ(waiting.exit_code, 0) << waiting.output;
  absl::StatusOr<int> rc = first->Wait(absl::Minutes(3));
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, 0) << ReadFile(pg_->dir() + "/first.log");
  EXPECT_NE(waiting.output.find("backfill: done: 0 bookings"), std::string::npos) << waiting.output;
  // Each relabelled booking has exactly one backfill event.
  EXPECT_EQ(QueryValue(url, R"(SELECT count(*) FROM (SELECT "bookingId" FROM "BookingOutbox"
                              GROUP BY 1 HAVING count(*) <> 1) x)"),
            "0");
}

}  // namespace
}  // namespace booking::testing
