// Backfill while writers keep changing statuses (old code writing old labels,
// new code writing new ones): no lost update, no deadlock, no old label at
// the end. And two migrator runs on one store never interleave.
#include <signal.h>

#include <atomic>
#include <map>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_catalog.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "tests/support/fixtures.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/pg_suite.h"
#include "tests/support/process.h"
#include "tests/support/service_set.h"

namespace booking::testing {
namespace {

constexpr int kRows = 5000;

class MigrationConcurrencyTest : public PgSuite {
 protected:
  std::string ExpandedStore(const std::string& name) {
    const std::string url = *pg_->CreateDatabase(name);
    PsqlRun load = RunPsqlFile(*pg_, url, FixturePath("prisma_booking_store.sql"),
                               {absl::StrCat("rows=", kRows)});
    EXPECT_EQ(load.exit_code, 0) << load.output;
    for (std::vector<std::string> args :
         std::vector<std::vector<std::string>>{{"up", "--store", "booking"}, {"expand"}}) {
      MigratorRun run = RunMigrator(*pg_, url, "", args);
      EXPECT_EQ(run.exit_code, 0) << run.output;
    }
    return url;
  }

  absl::StatusOr<Process> Spawn(const std::string& url, std::vector<std::string> args,
                                const std::string& log) {
    args.insert(args.begin(), MigratorBin());
    return Process::Spawn(args, {"BOOKING_DATABASE_URL=" + url}, pg_->dir() + "/" + log);
  }
};

std::string Expected(const std::string& label) {
  if (auto old = ParseLegacyStatus(label)) return std::string(Label(MapForward(*old)));
  return label;
}

TEST_F(MigrationConcurrencyTest, BackfillUnderConcurrentWritersLosesNothing) {
  const std::string url = ExpandedStore("writers");
  std::vector<std::string> labels;
  for (Status s : AllStatuses()) labels.emplace_back(Label(s));
  for (LegacyStatus s : AllLegacyStatuses()) labels.emplace_back(Label(s));

  // Each writer owns every 4th booking, so "the last write" of a row is known.
  constexpr int kWriters = 4;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> writes{0}, deadlocks{0}, other_errors{0}, max_wait_us{0};
  std::vector<std::map<std::string, std::string>> last(kWriters);
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      pqxx::connection conn(url);
      std::mt19937 rng(w);
      while (!stop) {
        const int i = 1 + w + kWriters * static_cast<int>(rng() % (kRows / kWriters));
        char id[16];
        std::snprintf(id, sizeof(id), "bk-%08d", i);
        const std::string& label = labels[rng() % labels.size()];
        const absl::Time start = absl::Now();
        try {
          pqxx::work txn(conn);
          // Old code writes like Prisma: status and "updatedAt", nothing else.
          txn.exec_params(R"(UPDATE "Booking" SET status = $2::"BookingStatus",
                                                   "updatedAt" = now() WHERE id = $1)",
                          std::string(id), label);
          txn.commit();
          last[w][id] = label;
          ++writes;
        } catch (const pqxx::deadlock_detected&) {
          ++deadlocks;
        } catch (const std::exception&) {
          ++other_errors;
        }
        const int64_t waited = absl::ToInt64Microseconds(absl::Now() - start);
        int64_t seen = max_wait_us;
        while (waited > seen && !max_wait_us.compare_exchange_weak(seen, waited)) {
        }
      }
    });
  }
  absl::StatusOr<Process> backfill =
      Spawn(url, {"backfill", "--batch-size", "100", "--progress", "lines"}, "backfill.log");
  ASSERT_TRUE(backfill.ok());
  std::this_thread::sleep_for(std::chrono::seconds(3));
  stop = true;
  for (auto& t : writers) t.join();
  absl::StatusOr<int> rc = backfill->Wait(absl::Minutes(3));
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(*rc, 0) << ReadFile(pg_->dir() + "/backfill.log");
  std::cout << "writers: " << writes << " committed writes, " << deadlocks << " deadlocks, "
            << other_errors << " other errors, longest write " << max_wait_us / 1000.0
            << " ms during backfill\n";
  EXPECT_GT(writes, 100);
  EXPECT_EQ(deadlocks, 0);
  EXPECT_EQ(other_errors, 0);

  // No lost update: every row is the mapping of the last value written to it.
  std::map<std::string, std::string> final_status;
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  for (const auto& row : txn.exec(R"(SELECT id, status::text FROM "Booking")")) {
    final_status[row[0].as<std::string>()] = row[1].as<std::string>();
  }
  int checked = 0;
  for (const auto& per_writer : last) {
    for (const auto& [id, label] : per_writer) {
      EXPECT_EQ(final_status[id], Expected(label)) << id << " last written " << label;
      ++checked;
    }
  }
  EXPECT_GT(checked, 100);
  EXPECT_EQ(txn.exec(R"(SELECT count(*) FROM "Booking" WHERE status::text = ANY(ARRAY[
                          'JOCKEY_ASSIGNED', 'IN_TRANSIT_TO_WORKSHOP', 'IN_WORKSHOP', 'COMPLETED',
                          'IN_TRANSIT_TO_CUSTOMER']))")[0][0]
                .as<int>(),
            0);
  MigratorRun verify = RunMigrator(*pg_, url, "", {"verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
}

TEST_F(MigrationConcurrencyTest, TwoRunsNeverInterleave) {
  const std::string url = ExpandedStore("twice");
  absl::StatusOr<Process> first =
      Spawn(url, {"backfill", "--batch-size", "50", "--throttle", "20ms"}, "first.log");
  ASSERT_TRUE(first.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
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
  EXPECT_EQ(QueryValue(url, R"(SELECT count(*) FROM "BookingOutbox")"),
            QueryValue(url, R"(SELECT count(*) FROM "Booking_Status_Migration_Backup"
                              WHERE status <> "refStatus")"));
}

}  // namespace
}  // namespace booking::testing
