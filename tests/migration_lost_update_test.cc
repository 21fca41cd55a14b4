// The lost update of a relabel, made to happen every time instead of once in
// a while under load: a relabel statement has begun (its snapshot is taken)
// but has not yet locked booking bk-00000005; an old-code writer commits a
// new label for bk-00000005; the statement goes on. The relabel must write
// the mapping of the label the writer committed (the row version it locks),
// not of the one its snapshot saw.
//
// Two ways to hold the statement between its snapshot and that lock:
// - in PostgreSQL: the --in-service-rule, evaluated for bk-00000004 before
//   the statement gets to bk-00000005, calls a function waiting for an
//   advisory lock the test holds;
// - in the server process itself: gdb stops the migrator's backend at its
//   first row lock (heap_lock_tuple) and makes the write from there. This
//   one holds any relabel statement, whatever its shape and plan (the
//   migrator before this change lost the update here every time).
// The test waits for each hold to show (pg_locks, gdb's output): no sleeps.
#include <cstdlib>
#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "tests/support/fixtures.h"
#include "tests/support/pg_suite.h"
#include "tests/support/process.h"
#include "tests/support/service_set.h"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

constexpr int kGateLock = 4242;

class MigrationLostUpdateTest : public PgSuite {
 protected:
  std::string ExpandedStore(const std::string& name) {
    const std::string url = *pg_->CreateDatabase(name);
    PsqlRun load = RunPsqlFile(*pg_, url, FixturePath("prisma_booking_store.sql"), {"rows=40"});
    EXPECT_EQ(load.exit_code, 0) << load.output;
    for (std::vector<std::string> args :
         std::vector<std::vector<std::string>>{{"up", "--store", "booking"}, {"expand"}}) {
      MigratorRun run = RunMigrator(*pg_, url, "", args);
      EXPECT_EQ(run.exit_code, 0) << run.output;
    }
    // The gate: inside the relabel statement (the one writing the outbox),
    // evaluating the rule for bk-00000004 waits for the test's lock.
    Exec(url, absl::StrCat(R"(CREATE FUNCTION gate(booking text) RETURNS boolean
                              LANGUAGE plpgsql AS $$
                              BEGIN
                                IF booking = 'bk-00000004'
                                   AND current_query() LIKE '%BookingOutbox%' THEN
                                  PERFORM pg_advisory_xact_lock_shared()",
                           kGateLock, R"();
                                END IF;
                                RETURN false;
                              END $$)"));
    return url;
  }

  // Waits until a migrator session waits for the gate's lock.
  void WaitForTheGate(const std::string& url, Process& migrator) {
    const std::string waiting = absl::StrCat(R"(SELECT count(*) FROM pg_locks l
                                                JOIN pg_stat_activity a ON a.pid = l.pid
                                                WHERE l.locktype = 'advisory' AND NOT l.granted
                                                  AND l.objid = )",
                                             kGateLock, " AND a.application_name = 'migrator'");
    bool at_gate = false;
    const absl::Status waited =
        WaitFor([&] { return (at_gate = QueryCount(url, waiting) > 0) || !migrator.Running(); },
                absl::Minutes(1), "the relabel statement at the gate", absl::Milliseconds(10));
    ASSERT_TRUE(at_gate || migrator.Running()) << "the migrator ended before reaching the gate";
    ASSERT_EQ(waited, absl::OkStatus());
  }
};

TEST_F(MigrationLostUpdateTest, ARelabelWritesTheMappingOfTheRowVersionItLocked) {
  const std::string url = ExpandedStore("lost_update");
  ASSERT_EQ(QueryValue(url, R"(SELECT status FROM "Booking" WHERE id = 'bk-00000004')"),
            "IN_WORKSHOP");
  ASSERT_EQ(QueryValue(url, R"(SELECT status FROM "Booking" WHERE id = 'bk-00000005')"),
            "COMPLETED");

  pqxx::connection gate(url);
  pqxx::nontransaction(gate).exec(absl::StrCat("SELECT pg_advisory_lock(", kGateLock, ")"));
  absl::StatusOr<Process> backfill =
      Process::Spawn({MigratorBin(), "backfill", "--batch-size", "40", "--in-service-rule",
                      "gate(id)", "--progress", "lines"},
                     {"BOOKING_DATABASE_URL=" + url}, pg_->dir() + "/lost-update.log");
  ASSERT_TRUE(backfill.ok()) << backfill.status();
  WaitForTheGate(url, *backfill);

  // Old code moves bk-00000005 on while the statement is held: COMPLETED ->
  // JOCKEY_ASSIGNED (a label whose mapping differs). It must not wait for
  // the migrator: the statement has not locked that row yet.
  {
    pqxx::connection writer(url);
    pqxx::work txn(writer);
    txn.exec("SET LOCAL lock_timeout = '5s'");
    txn.exec(R"(UPDATE "Booking" SET status = 'JOCKEY_ASSIGNED', "updatedAt" = now()
                WHERE id = 'bk-00000005')");
    txn.commit();
  }
  pqxx::nontransaction(gate).exec(absl::StrCat("SELECT pg_advisory_unlock(", kGateLock, ")"));
  absl::StatusOr<int> rc = backfill->Wait(absl::Minutes(2));
  ASSERT_TRUE(rc.ok()) << rc.status();
  ASSERT_EQ(*rc, 0) << ReadFile(pg_->dir() + "/lost-update.log");

  // The last write was JOCKEY_ASSIGNED: the row holds its mapping.
  EXPECT_EQ(QueryValue(url, R"(SELECT status FROM "Booking" WHERE id = 'bk-00000005')"),
            "PICKUP_ASSIGNED")
      << "the relabel wrote the mapping of a row version older than the one it locked";
  EXPECT_EQ(QueryValue(url, R"(SELECT status FROM "Booking" WHERE id = 'bk-00000004')"),
            "AT_WORKSHOP");
  MigratorRun verify = RunMigrator(*pg_, url, "", {"verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
}

// The migrator's backend, once it waits for a lock on `relation`.
int WaitForBackendWaitingOn(const std::string& url, const std::string& relation,
                            Process& migrator) {
  const std::string sql =
      absl::StrCat(R"(SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                      WHERE l.locktype = 'relation' AND NOT l.granted
                        AND l.relation = to_regclass(')",
                   relation, R"(') AND a.application_name = 'migrator' LIMIT 1)");
  std::string pid = "NULL";
  const absl::Status waited = WaitFor(
      [&] { return (pid = QueryValue(url, sql)) != "NULL" || !migrator.Running(); },
      absl::Minutes(1), absl::StrCat("the relabel waiting for ", relation), absl::Milliseconds(10));
  if (pid != "NULL") return std::stoi(pid);
  EXPECT_TRUE(migrator.Running()) << "the migrator ended before its relabel";
  EXPECT_EQ(waited, absl::OkStatus()) << "the relabel never waited for " << relation;
  return -1;
}

void WaitForFile(const std::string& path, Process& gdb) {
  bool there = false;
  const absl::Status waited =
      WaitFor([&] { return (there = std::ifstream(path).good()) || !gdb.Running(); },
              absl::Minutes(1), absl::StrCat("gdb to write ", path), absl::Milliseconds(10));
  ASSERT_TRUE(there || gdb.Running()) << "gdb ended before " << path;
  ASSERT_EQ(waited, absl::OkStatus()) << "gdb never got to " << path;
}

TEST_F(MigrationLostUpdateTest, AWriteBetweenTheStatementsSnapshotAndItsRowLockIsKept) {
  const std::string url = ExpandedStore("lost_update_gdb");
  const std::string dir = pg_->dir();
  // Hold the relabel before its snapshot: its statement waits for the backup
  // table, which this transaction locks (no earlier step touches it).
  pqxx::connection holder(url);
  auto hold = std::make_unique<pqxx::work>(holder);
  hold->exec(R"(LOCK TABLE "Booking_Status_Migration_Backup" IN ACCESS EXCLUSIVE MODE)");
  absl::StatusOr<Process> backfill =
      Process::Spawn({MigratorBin(), "backfill", "--batch-size", "40", "--lock-timeout", "120s",
                      "--progress", "lines"},
                     {"BOOKING_DATABASE_URL=" + url}, dir + "/gdb-backfill.log");
  ASSERT_TRUE(backfill.ok()) << backfill.status();
  const int backend =
      WaitForBackendWaitingOn(url, R"("Booking_Status_Migration_Backup")", *backfill);
  ASSERT_GT(backend, 0);

  // gdb stops the backend at its first row lock (bk-00000001; the snapshot
  // is taken, bk-00000005 not locked yet), makes the old-code write from
  // there, and lets it go.
  const char* pg_bin = std::getenv("PG_BIN");
  const std::string psql =
      absl::StrCat(pg_bin != nullptr ? pg_bin : "/usr/lib/postgresql/15/bin", "/psql");
  std::ofstream(dir + "/lost-update.gdb") << absl::StrCat(
      "set pagination off\n", "handle all nostop noprint pass\n", "break heap_lock_tuple\n",
      "shell touch ", dir, "/gdb-attached\n", "continue\n", "shell ", psql,
      " -X -q -v ON_ERROR_STOP=1 -d '", url,
      R"(' -c "UPDATE \"Booking\" SET status = 'JOCKEY_ASSIGNED', \"updatedAt\" = now() )",
      R"(WHERE id = 'bk-00000005'" && touch )", dir, "/gdb-written\n", "detach\n", "quit\n");
  absl::StatusOr<Process> gdb =
      Process::Spawn({"/usr/bin/gdb", "-nx", "-batch", "-p", std::to_string(backend), "-x",
                      dir + "/lost-update.gdb"},
                     {}, dir + "/gdb.log");
  ASSERT_TRUE(gdb.ok()) << gdb.status();
  WaitForFile(dir + "/gdb-attached", *gdb);
  hold->commit();
  absl::StatusOr<int> gdb_rc = gdb->Wait(absl::Minutes(2));
  ASSERT_TRUE(gdb_rc.ok()) << gdb_rc.status() << ReadFile(dir + "/gdb.log");
  ASSERT_TRUE(std::ifstream(dir + "/gdb-written").good())
      << "the write was not made while the backend was stopped:\n"
      << ReadFile(dir + "/gdb.log");
  absl::StatusOr<int> rc = backfill->Wait(absl::Minutes(2));
  ASSERT_TRUE(rc.ok()) << rc.status();
  ASSERT_EQ(*rc, 0) << ReadFile(dir + "/gdb-backfill.log");

  EXPECT_EQ(QueryValue(url, R"(SELECT status FROM "Booking" WHERE id = 'bk-00000005')"),
            "PICKUP_ASSIGNED")
      << "the relabel wrote the mapping of the row version its snapshot saw, not of the one it "
         "locked: the old-code write was lost";
  MigratorRun verify = RunMigrator(*pg_, url, "", {"verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
}

}  // namespace
}  // namespace booking::testing
