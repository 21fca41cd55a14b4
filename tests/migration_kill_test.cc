// SIGKILL of the migrator during backfill and during contract, at several
// points, then a rerun: the store ends exactly as after an uninterrupted run
// (rows, backup, history events, schema).
#include <signal.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/fixtures.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/process.h"
#include "tests/support/service_set.h"

namespace booking::testing {
namespace {

constexpr char kRule[] = R"("workStartedAt" IS NOT NULL)";

// What must be equal between an interrupted and an uninterrupted run.
std::string FinalState(const std::string& url) {
  return QueryText(url, R"(
    SELECT 'rows', md5(string_agg(concat_ws('|', id, status, "previousStatus", version, "updatedAt"),
                                  ',' ORDER BY id)) FROM "Booking"
    UNION ALL
    SELECT 'tasks', md5(string_agg(concat_ws('|', id, "forStatus"), ',' ORDER BY id)) FROM "DriverTask"
    UNION ALL
    SELECT 'backup', md5(string_agg(concat_ws('|', id, status, "updatedAt", "refStatus", "refVersion"),
                                    ',' ORDER BY id)) FROM "Booking_Status_Migration_Backup"
    UNION ALL
    SELECT 'events', md5(string_agg(concat_ws('|', "bookingId", sequence, "fromStatus", "toStatus",
                                              "changedBy", reason), ',' ORDER BY "bookingId", sequence))
    FROM "BookingOutbox"
    UNION ALL
    SELECT 'labels', string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum
    WHERE enumtypid = '"BookingStatus"'::regtype
    UNION ALL
    SELECT 'indexes', string_agg(indexdef, E'\n' ORDER BY indexname) FROM pg_indexes
    WHERE tablename IN ('Booking', 'DriverTask')
    UNION ALL
    SELECT 'views', string_agg(viewname || ':' || definition, E'\n' ORDER BY viewname) FROM pg_views
    WHERE schemaname = 'public'
    UNION ALL
    SELECT 'columns', string_agg(concat_ws(':', table_name, column_name, udt_name, column_default,
                                           is_nullable), E'\n' ORDER BY table_name, column_name)
    FROM information_schema.columns WHERE table_name IN ('Booking', 'DriverTask')
    UNION ALL
    SELECT 'phase', phase FROM "StatusMigration"
    UNION ALL
    SELECT 'leftovers', count(*)::text FROM pg_class
    WHERE relname LIKE '%\_\_next%' OR relname LIKE '%__next_sync%')");
}

class MigrationKillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pg = PgCluster::Start();
    ASSERT_TRUE(pg.ok()) << pg.status();
    pg_ = *std::move(pg);
  }

  std::string Store(const std::string& name) {
    const std::string url = *pg_->CreateDatabase(name);
    PsqlRun load = RunPsqlFile(*pg_, url, FixturePath("prisma_booking_store.sql"), {"rows=20000"});
    EXPECT_EQ(load.exit_code, 0) << load.output;
    return url;
  }

  void Migrate(const std::string& url, std::vector<std::string> args) {
    MigratorRun run = RunMigrator(*pg_, url, history_, args);
    ASSERT_EQ(run.exit_code, 0) << args[0] << ":\n" << run.output;
  }

  // Starts the migrator and SIGKILLs it after `after`; true when it was
  // still running (the kill landed mid-phase).
  bool KillDuring(const std::string& url, std::vector<std::string> args, absl::Duration after) {
    args.insert(args.begin(), MigratorBin());
    absl::StatusOr<Process> p =
        Process::Spawn(args, {"BOOKING_DATABASE_URL=" + url}, pg_->dir() + "/killed.log");
    EXPECT_TRUE(p.ok());
    std::this_thread::sleep_for(absl::ToChronoMilliseconds(after));
    const bool running = p->Running();
    p->Signal(SIGKILL);
    (void)p->Wait(absl::Seconds(10));
    return running;
  }

  std::unique_ptr<PgCluster> pg_;
  std::string history_;  // no history store: backfill events stay in the outbox
};

TEST_F(MigrationKillTest, KilledBackfillAndContractEndAsAnUninterruptedRun) {
  const std::string reference = Store("reference");
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{"up", "--store", "booking"},
                                             {"expand"},
                                             {"backfill", "--in-service-rule", kRule},
                                             {"verify"},
                                             {"contract", "--force"}}) {
    Migrate(reference, args);
  }
  const std::string expected = FinalState(reference);

  const std::string url = Store("killed");
  Migrate(url, {"up", "--store", "booking"});
  Migrate(url, {"expand"});
  int landed = 0;
  for (int ms : {150, 350, 600, 900}) {
    landed += KillDuring(url,
                         {"backfill", "--in-service-rule", kRule, "--batch-size", "250",
                          "--throttle", "25ms", "--progress", "lines"},
                         absl::Milliseconds(ms));
  }
  EXPECT_GE(landed, 3) << "most kills should land mid-backfill";
  Migrate(url, {"backfill", "--in-service-rule", kRule});
  Migrate(url, {"verify"});
  landed = 0;
  for (int ms : {100, 250, 450, 700, 1000}) {
    landed += KillDuring(url, {"contract", "--force", "--throttle", "40ms", "--progress", "lines"},
                         absl::Milliseconds(ms));
  }
  EXPECT_GE(landed, 3) << "most kills should land mid-contract";
  Migrate(url, {"contract", "--force"});
  EXPECT_EQ(FinalState(url), expected);
}

}  // namespace
}  // namespace booking::testing
