// migration-bench: the status-enum change on a booking store of N bookings
// (default 1,000,000, the seed's shape), measured in one run against the
// original plan's SQL on an identical store:
//   - backfill rows/s against the seed's single UPDATE;
//   - the longest wait of a concurrent status change during each;
//   - the longest ACCESS EXCLUSIVE lock writers saw during our contract
//     against the seed's table-rewriting contract.
// A probe thread changes random bookings (that the migration relabels) in a
// loop and records how long each change waited. Prints figures; asserts
// nothing.
#include <atomic>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "pqxx/pqxx"
#include "tests/support/fixtures.h"
#include "tests/support/pg_cluster.h"

ABSL_FLAG(int, rows, 1000000, "bookings in each store");

namespace booking::testing {
namespace {

// Changes random bookings among `ids` until stopped; the longest single
// change is what a caller of booking-service would have waited.
class Probe {
 public:
  Probe(const std::string& url, int rows) : url_(url), rows_(rows) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Probe() { Stop(); }

  absl::Duration Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return absl::Microseconds(max_us_.load());
  }
  int64_t changes() const { return changes_; }

 private:
  void Run() {
    pqxx::connection conn(url_);
    std::mt19937 rng(42);
    while (!stop_) {
      // Rows i with i % 9 in 2..6 hold the old labels the migration changes.
      int i = 1 + static_cast<int>(rng() % rows_);
      i = i - i % 9 + 2 + static_cast<int>(rng() % 5);
      if (i > rows_) continue;
      char id[16];
      std::snprintf(id, sizeof(id), "bk-%08d", i);
      const absl::Time start = absl::Now();
      try {
        pqxx::work txn(conn);
        txn.exec_params(R"(UPDATE "Booking" SET "updatedAt" = now() WHERE id = $1)",
                        std::string(id));
        txn.commit();
        ++changes_;
      } catch (const std::exception& e) {
        std::cerr << "probe: " << e.what() << "\n";
      }
      const int64_t us = absl::ToInt64Microseconds(absl::Now() - start);
      int64_t seen = max_us_;
      while (us > seen && !max_us_.compare_exchange_weak(seen, us)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  const std::string url_;
  const int rows_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> max_us_{0}, changes_{0};
  std::thread thread_;
};

struct Timed {
  absl::Duration elapsed;
  absl::Duration longest_wait;
  int64_t probe_changes;
};

template <typename F>
Timed Measure(const std::string& url, int rows, F&& work) {
  Probe probe(url, rows);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const absl::Time start = absl::Now();
  work();
  const absl::Duration elapsed = absl::Now() - start;
  const absl::Duration longest = probe.Stop();
  return {elapsed, longest, probe.changes()};
}

void Check(bool ok, const std::string& what) {
  if (!ok) {
    std::cerr << "migration-bench: " << what << " failed\n";
    std::exit(1);
  }
}

int Main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int rows = absl::GetFlag(FLAGS_rows);
  auto pg = PgCluster::Start();
  Check(pg.ok(), "PostgreSQL start");
  std::cout << "migration-bench: " << rows << " bookings per store (the seed's shape), "
            << "PostgreSQL 15 in " << (*pg)->dir() << "\n";
  const std::string seed = *(*pg)->CreateDatabase("seed_plan");
  const std::string ours = *(*pg)->CreateDatabase("ours");
  for (const std::string& url : {seed, ours}) {
    PsqlRun load =
        RunPsqlFile(**pg, url, FixturePath("seed_shape.sql"), {absl::StrCat("rows=", rows)});
    Check(load.exit_code == 0, "load: " + load.output);
    Exec(url, R"(VACUUM ANALYZE "Booking")");
  }
  std::string reported;  // what the migrator itself says of its locks
  auto migrate = [&](std::vector<std::string> args) {
    MigratorRun run = RunMigrator(**pg, ours, "", args);
    Check(run.exit_code == 0, "migrator " + args[0] + ":\n" + run.output);
    std::istringstream lines(run.output);
    for (std::string line; std::getline(lines, line);) {
      if (line.find("longest batch") != std::string::npos ||
          line.find("held ACCESS EXCLUSIVE") != std::string::npos) {
        reported += "  migrator: " + line + "\n";
      }
    }
  };
  auto seed_step = [&](const std::string& file) {
    PsqlRun run = RunPsqlFile(**pg, seed, FixturePath("seed_plan/" + file));
    Check(run.exit_code == 0, file + ":\n" + run.output);
  };
  const int64_t relabelled =
      std::stoll(QueryValue(ours, R"(SELECT count(*) FROM "Booking" WHERE status IN
        ('JOCKEY_ASSIGNED', 'IN_TRANSIT_TO_WORKSHOP', 'IN_WORKSHOP', 'COMPLETED',
         'IN_TRANSIT_TO_CUSTOMER'))"));

  // The seed's plan, with just enough fixed for it to run at all.
  seed_step("1_expand.sql");
  Exec(seed, R"(ALTER TYPE "BookingStatus" ADD VALUE 'AT_WORKSHOP')");
  const Timed seed_backfill = Measure(seed, rows, [&] { seed_step("2_data_migration.sql"); });
  Exec(seed, R"(ALTER TABLE "Booking" ALTER COLUMN status DROP DEFAULT)");
  Exec(seed, R"(DROP TABLE "Booking_Status_Migration_Backup")");
  const Timed seed_contract = Measure(seed, rows, [&] { seed_step("3_contract.sql"); });

  // Ours.
  migrate({"up", "--store", "booking"});
  migrate({"expand"});
  const Timed our_backfill = Measure(ours, rows, [&] {
    migrate({"backfill", "--progress", "lines"});
  });
  migrate({"verify"});
  const Timed our_contract = Measure(ours, rows, [&] {
    migrate({"contract", "--compatibility-window", "0s", "--progress", "lines"});
  });

  auto rate = [&](const Timed& t) {
    return static_cast<double>(relabelled) / absl::ToDoubleSeconds(t.elapsed);
  };
  auto ms = [](absl::Duration d) { return absl::ToDoubleMilliseconds(d); };
  std::cout << absl::StrFormat(
      "\n%d bookings, %d of them relabelled\n"
      "%-44s %12s %14s %22s\n"
      "%-44s %12.2f %14.0f %22.1f\n"
      "%-44s %12.2f %14.0f %22.1f\n"
      "%-44s %12s %14.2f %22.3f\n\n"
      "%-44s %12s %14s %22s\n"
      "%-44s %12.2f %14s %22.1f\n"
      "%-44s %12.2f %14s %22.1f\n"
      "%-44s %12s %14s %22.4f\n",
      rows, relabelled, "backfill", "seconds", "rows/s", "longest change wait ms",
      "seed: one UPDATE of every affected row", absl::ToDoubleSeconds(seed_backfill.elapsed),
      rate(seed_backfill), ms(seed_backfill.longest_wait),
      "ours: migrator backfill (batches of 1000)", absl::ToDoubleSeconds(our_backfill.elapsed),
      rate(our_backfill), ms(our_backfill.longest_wait), "ours / seed", "",
      rate(our_backfill) / rate(seed_backfill),
      ms(our_backfill.longest_wait) / ms(seed_backfill.longest_wait), "contract", "seconds", "",
      "longest change wait ms", "seed: ALTER COLUMN TYPE (table rewrite)",
      absl::ToDoubleSeconds(seed_contract.elapsed), "", ms(seed_contract.longest_wait),
      "ours: shadow column, batched copy, short swap", absl::ToDoubleSeconds(our_contract.elapsed),
      "", ms(our_contract.longest_wait), "ours / seed", "", "",
      ms(our_contract.longest_wait) / ms(seed_contract.longest_wait));
  std::cout << "(the longest change wait during a contract is the longest time a writer was "
               "held by its ACCESS EXCLUSIVE lock; probe changes: "
            << seed_backfill.probe_changes << ", " << our_backfill.probe_changes << ", "
            << seed_contract.probe_changes << ", " << our_contract.probe_changes << ")\n"
            << reported;
  return 0;
}

}  // namespace
}  // namespace booking::testing

int main(int argc, char** argv) { return booking::testing::Main(argc, argv); }
