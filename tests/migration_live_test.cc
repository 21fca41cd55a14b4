// The whole status change on a live system: both services serve client
// threads walking bookings through their whole lifecycle while the migrator
// runs expand, backfill (with an old-code writer still writing old labels
// with plain SQL), verify, contract, rollback contract, rollback backfill and
// forward again (backfill, verify, contract). Afterwards:
// - every acknowledged change is in history exactly once;
// - every booking's history is one consistent chain (contiguous sequences,
//   each fromStatus the previous toStatus, all in the new names), ending at
//   the status the booking reads as now, at its version: no lost write, and
//   every status change has its entry, also those made with plain SQL;
// - no booking moved backwards without a recorded reason: every change by a
//   client follows the state machine (no call was refused as illegal), the
//   migrator's entries name the same status on both sides (rollback) and
//   backfill wrote none (without --in-service-rule every relabel keeps the
//   status: a change of representation, not recorded), and plain-SQL
//   changes are marked as such.
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_catalog.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "tests/support/fixtures.h"
#include "tests/support/label_writers.h"
#include "tests/support/pg_suite.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"
#include "tests/support/status_load.h"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

struct Entry {
  int64_t sequence;
  std::string from, to, by, reason;
};

// History per booking, in sequence order.
std::map<std::string, std::vector<Entry>> History(const std::string& url) {
  std::map<std::string, std::vector<Entry>> out;
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  for (const auto& r : txn.exec(R"(SELECT "bookingId", sequence, COALESCE("fromStatus", ''),
                                          "toStatus", "changedBy", COALESCE(reason, '')
                                   FROM "BookingStatusHistory" ORDER BY 1, 2)")) {
    out[r[0].as<std::string>()].push_back({r[1].as<int64_t>(), r[2].as<std::string>(),
                                           r[3].as<std::string>(), r[4].as<std::string>(),
                                           r[5].as<std::string>()});
  }
  return out;
}

class MigrationLiveTest : public PgSuite {
 protected:
  void Migrate(std::vector<std::string> args, int expected = 0) {
    args.push_back("--progress=lines");
    MigratorRun run = RunMigrator(*pg_, set_->booking_url(), set_->history_url(), args);
    ASSERT_EQ(run.exit_code, expected) << args[0] << ":\n" << run.output << set_->Logs();
  }

  // Lets the clients make `n` more acknowledged changes under this phase.
  void Serve(int64_t n) {
    ASSERT_EQ(load_->WaitForMoreAcked(n, absl::Minutes(2)), absl::OkStatus()) << "clients stalled\n"
                                                                              << set_->Logs();
  }

  void WaitForHistory() {
    ASSERT_TRUE(WaitForCount(set_->booking_url(), R"(SELECT count(*) FROM "BookingOutbox")", 0,
                             absl::Minutes(2)))
        << "events stayed in the outbox\n"
        << set_->Logs();
  }

  void CheckAcknowledged(const std::map<std::string, std::vector<Entry>>& history) {
    std::map<std::pair<std::string, int64_t>, std::string> to;
    for (const auto& [id, entries] : history) {
      for (const Entry& e : entries) to[{id, e.sequence}] = e.to;
    }
    for (const AckedChange& a : load_->acked()) {
      auto it = to.find({a.booking_id, a.version});
      ASSERT_NE(it, to.end()) << a.booking_id << " version " << a.version << " not in history";
      EXPECT_EQ(it->second, a.status) << a.booking_id << " version " << a.version;
    }
    EXPECT_EQ(QueryValue(set_->history_url(), R"(SELECT count(*) FROM "BookingStatusHistory")"),
              QueryValue(set_->history_url(),
                         R"(SELECT count(DISTINCT "eventId") FROM "BookingStatusHistory")"));
  }

  // Each booking's entries: one chain, and every move has its reason.
  void CheckChains(const std::map<std::string, std::vector<Entry>>& history) {
    for (const auto& [id, entries] : history) {
      for (size_t i = 0; i < entries.size(); ++i) {
        const Entry& e = entries[i];
        if (i > 0) {
          EXPECT_EQ(e.sequence, entries[i - 1].sequence + 1) << id;
          EXPECT_EQ(e.from, entries[i - 1].to) << id << " sequence " << e.sequence;
        }
        if (e.by == ServiceSet::kPrincipal) {
          if (e.from.empty()) continue;  // created
          auto from = ParseStatus(e.from), next = ParseStatus(e.to);
          ASSERT_TRUE(from && next) << id << ": " << e.from << " -> " << e.to;
          EXPECT_TRUE(IsTransitionAllowed(*from, *next)) << id << ": " << e.from << " -> " << e.to;
        } else if (e.by == "migrator") {
          EXPECT_EQ(e.from, e.to) << id << " sequence " << e.sequence << ": " << e.reason;
          EXPECT_NE(e.reason, "status migration backfill") << id << " sequence " << e.sequence;
        } else {
          EXPECT_NE(e.by.find("legacy-app"), std::string::npos) << id << ": " << e.by;
          EXPECT_EQ(e.reason, "status written outside booking-service") << id;
        }
      }
    }
  }

  // Every booking that has changed ends its history at its version and at
  // the status it reads as now.
  void CheckEnds(const std::map<std::string, std::vector<Entry>>& history) {
    const auto stored = StoredStatuses(set_->booking_url());
    pqxx::connection conn(set_->booking_url());
    pqxx::nontransaction txn(conn);
    int checked = 0;
    for (const auto& r : txn.exec(R"(SELECT id, version FROM "Booking" WHERE version > 0)")) {
      const std::string id = r[0].as<std::string>();
      auto it = history.find(id);
      ASSERT_NE(it, history.end()) << id << " changed but has no history";
      EXPECT_EQ(it->second.back().sequence, r[1].as<int64_t>()) << id;
      EXPECT_EQ(it->second.back().to, stored.at(id).second) << id;
      ++checked;
    }
    EXPECT_GT(checked, 1000);
  }

  void CheckHistory() {
    const auto history = History(set_->history_url());
    std::map<std::string, int> by;
    for (const auto& [id, entries] : history) {
      for (const Entry& e : entries)
        ++by[e.by.find("legacy-app") != std::string::npos ? "legacy-app" : e.by];
    }
    std::cout << load_->acked_count() << " acknowledged changes; " << history.size()
              << " bookings in history:";
    for (const auto& [who, n] : by) std::cout << " " << who << "=" << n;
    std::cout << "\n";
    CheckAcknowledged(history);
    CheckChains(history);
    CheckEnds(history);
  }

  // Backfill while the old application still writes old labels; it is
  // retired once backfill has relabelled a first batch (a seeded booking,
  // version 0, holding a new label: only the relabel writes one without a
  // version).
  void BackfillBesideOldCode() {
    LabelWriters legacy(set_->booking_url() + "?application_name=legacy-app", 1500, 1);
    legacy.Start(WriterKind::kOldCode, 1);
    absl::StatusOr<Process> backfill = Process::Spawn(
        {MigratorBin(), "backfill", "--batch-size=100", "--max-passes=50", "--progress=lines"},
        {"BOOKING_DATABASE_URL=" + set_->booking_url()}, pg_->dir() + "/live-backfill.log");
    ASSERT_TRUE(backfill.ok());
    ASSERT_EQ(WaitFor(
                  [&] {
                    return QueryCount(set_->booking_url(), R"(SELECT count(*) FROM "Booking"
                                      WHERE version = 0 AND status::text IN ('PICKUP_ASSIGNED',
                                        'PICKED_UP', 'AT_WORKSHOP', 'READY_FOR_RETURN',
                                        'RETURN_ASSIGNED'))") > 0;
                  },
                  absl::Minutes(1), "a relabelled booking", absl::Milliseconds(10)),
              absl::OkStatus())
        << ReadFile(pg_->dir() + "/live-backfill.log");
    legacy.Stop(WriterKind::kOldCode);
    absl::StatusOr<int> rc = backfill->Wait(absl::Minutes(3));
    ASSERT_TRUE(rc.ok());
    ASSERT_EQ(*rc, 0) << ReadFile(pg_->dir() + "/live-backfill.log");
    EXPECT_GT(legacy.committed(), 0);
    EXPECT_EQ(legacy.errors(), 0) << legacy.first_error();
  }

  std::unique_ptr<ServiceSet> set_;
  std::unique_ptr<StatusLoad> load_;
};

TEST_F(MigrationLiveTest, EveryAcknowledgedChangeSurvivesTheChangeAndItsRollbacks) {
  auto set = ServiceSet::CreateSeeded(*pg_, "live", FixturePath("prisma_booking_store.sql"),
                                      {"rows=1500"});
  ASSERT_TRUE(set.ok()) << set.status();
  set_ = *std::move(set);
  Migrate({"expand"});
  ASSERT_TRUE(set_->StartHistory().ok()) << set_->Logs();
  ASSERT_TRUE(set_->StartBooking().ok()) << set_->Logs();
  auto load = StatusLoad::Start({.target = set_->booking_target(),
                                 .token = ServiceSet::kToken,
                                 .booking_prefix = "live",
                                 .threads = 3,
                                 .bookings_per_thread = 4,
                                 .call_timeout = absl::Seconds(5),
                                 .resolve_timeout = absl::Seconds(60),
                                 .lifecycle = true});
  ASSERT_TRUE(load.ok()) << load.status();
  load_ = *std::move(load);
  Serve(100);

  ASSERT_NO_FATAL_FAILURE(BackfillBesideOldCode());

  for (std::vector<std::string> phase :
       std::vector<std::vector<std::string>>{{"verify"},
                                             {"contract", "--compatibility-window=0s"},
                                             {"rollback", "contract"},
                                             {"rollback", "backfill"},
                                             {"backfill"},
                                             {"verify"},
                                             {"contract", "--compatibility-window=0s"}}) {
    Serve(60);
    Migrate(phase);
  }
  Serve(60);
  load_->Stop();
  WaitForHistory();

  EXPECT_EQ(load_->unresolved(), 0);
  EXPECT_EQ(load_->failures()["FAILED_PRECONDITION"], 0)
      << "a client's legal change was refused: a booking moved backwards under it";
  CheckHistory();
}

}  // namespace
}  // namespace booking::testing
