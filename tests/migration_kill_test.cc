// Every phase of the status-enum change, interrupted at EVERY statement
// boundary (SIGKILL before statement k, k = 1..N) and failed at EVERY DDL
// step (d = 1..M), on a compact store with one object of every carried kind
// (tests/fixtures/kill_store.sql). The migrator's fault hook
// (BOOKING_MIGRATOR_FAULT: count, kill-before=k, fail-ddl=d) makes each
// interruption land at an exact statement; N and M come from a counted,
// uninterrupted run of the same phase on the same starting store.
//
// From each interrupted store:
// (a) rerunning the phase exits 0 and the store equals the uninterrupted
//     run's end state exactly (every row, history events, backup, exact
//     labels, labels in order, every definition, every object);
// (b) undoing the phase exits 0 and the store equals, as the application
//     sees it (statuses, defaults, definitions, objects, phase, writers'
//     label set), what the same undo makes of the phase's start or of its
//     end: as if the interrupted phase had not begun, or had finished.
//     Versions and history may differ (a half-done relabel went forward and
//     back), so history is checked apart: each booking's events are its
//     versions 1..v once each, each starting where the one before ended.
// The undo of a forward phase is its rollback (expand: `rollback expand`,
// backfill: `rollback backfill`, contract: `rollback contract`); the undo of
// a rollback is the phase it rolled back, run forward again (rollback
// contract: `contract`, rollback backfill: `backfill`, rollback expand:
// `expand`); rerunning a rollback is its (a). In both, nothing named like
// the migrator's work objects (__next, __wide, __next_sync) is left.
// A failed DDL step must exit 8, saying a retry will not help until the
// cause is fixed; a kill shows as exit 137.
//
// Every k and every d is run. Many leave the same store (a kill inside a
// transaction leaves what a kill at its first statement leaves), so (a) and
// (b) run once per distinct interrupted store: kills are told apart by the
// number of transactions the killed session committed (the migrator is
// deterministic: equal counts, equal committed prefixes, equal stores),
// then merged by a digest of everything a migrator run reads; failures
// (whose error paths may commit clean-up) by that digest alone.
#include <chrono>
#include <iostream>
#include <memory>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/support/fixtures.h"
#include "tests/support/kill_steps.h"
#include "tests/support/pg_suite.h"

namespace booking::testing {
namespace {

constexpr char kRule[] = R"("workStartedAt" IS NOT NULL)";
constexpr int kThreads = 3;
using Args = std::vector<std::string>;

// Batches of 64 rows: a kill lands between batches of backfill and of its
// rollback too. Every relabel runs one worker: its statements in one fixed
// order, so a kill before statement k lands at the same point every time
// (several workers killed mid-run: migration_backfill_test).
const Args kExpand = {"expand"};
const Args kBackfill = {"backfill", "--workers",    "1", "--in-service-rule",
                        kRule,      "--batch-size", "64"};
const Args kContract = {"contract", "--compatibility-window", "0s"};
const Args kRollbackContract = {"rollback", "contract"};
const Args kRollbackBackfill = {"rollback", "backfill", "--batch-size", "64", "--workers", "1"};
const Args kRollbackExpand = {"rollback", "expand", "--batch-size", "64", "--workers", "1"};

// A phase under test: the prepared store it starts from, the command, and
// the command that undoes it.
struct PhaseCase {
  std::string name;
  std::string start;
  Args run;
  Args undo;
};

std::ostream& operator<<(std::ostream& os, const PhaseCase& p) { return os << p.name; }

// What an uninterrupted run gives, to compare every interrupted one with.
struct Reference {
  StepCount steps;
  StoreDigest end;                  // kFull, after the phase
  std::vector<StoreDigest> undone;  // kApp, the undo after the start and after the end
};

// One interruption: its fault hook, the exit it must end with, what went
// wrong with it, and the database holding the store it left (shared with
// every interruption that left the same).
struct Interruption {
  std::string fault;
  int expected_exit;
  std::string problems;
  std::string store;
};

// A worker's copy of the start that an interruption left untouched, and the
// transactions committed in it so far (its next kill is counted from there).
struct Spare {
  std::string db;
  int64_t commits = 0;
};

class MigrationKillTest : public PgSuite, public ::testing::WithParamInterface<PhaseCase> {
 protected:
  // The starting stores, each a template database: fixture + up ("none"),
  // then expanded, verified, contracted, and rolled back to expanded.
  static void SetUpTestSuite() {
    PgSuite::SetUpTestSuite();
    if (pg_ == nullptr) return;
    // Statement and commit counts must not depend on autovacuum taking
    // locks or committing in the clones (this server is the suite's own).
    Exec(pg_->Url("postgres"), "ALTER SYSTEM SET autovacuum = off");
    Exec(pg_->Url("postgres"), "SELECT pg_reload_conf()");
    // The reload is asynchronous: new sessions see it once it is done.
    for (int i = 0; QueryValue(pg_->Url("postgres"), "SHOW autovacuum") != "off"; ++i) {
      ASSERT_LT(i, 10000) << "autovacuum stays on";
    }
    const std::string none = *pg_->CreateDatabase("start_none");
    PsqlRun load = RunPsqlFile(*pg_, none, FixturePath("kill_store.sql"));
    ASSERT_EQ(load.exit_code, 0) << load.output;
    Prepare("start_none", {"up", "--store", "booking"});
    Prepare("start_expanded", kExpand, "start_none");
    Prepare("start_verified", kBackfill, "start_expanded");
    Prepare("start_verified", {"verify"});
    Prepare("start_contracted", kContract, "start_verified");
    Prepare("start_rolled_back", kRollbackBackfill, "start_verified");
  }

  // Runs `args` on database `name` (a clone of `from` when given).
  static void Prepare(const std::string& name, const Args& args, const std::string& from = "") {
    const std::string url = from.empty() ? pg_->Url(name) : ClusterAdmin(*pg_).Clone(from, name);
    FaultRun run = RunMigratorWithFault(*pg_, url, args, "");
    ASSERT_EQ(run.exit_code, 0) << absl::StrJoin(args, " ") << " on " << name << ":\n"
                                << run.output;
  }

  // Runs the phase uninterrupted (counting its statements), and its undo
  // from both sides.
  Reference MakeReference(const PhaseCase& p) {
    ClusterAdmin admin(*pg_);
    Reference ref;
    const std::string end_db = p.name + "_end";
    const std::string end = admin.Clone(p.start, end_db);
    FaultRun run = RunMigratorWithFault(*pg_, end, p.run, "count");
    EXPECT_EQ(run.exit_code, 0) << run.output;
    absl::StatusOr<StepCount> steps = ParseStepCount(run.output);
    EXPECT_TRUE(steps.ok()) << steps.status() << "\n" << run.output;
    if (steps.ok()) ref.steps = *steps;
    ref.end = DigestOf(end, DigestKind::kFull);
    EXPECT_EQ(MigratorLeftovers(end), "");
    EXPECT_EQ(HistoryProblems(end), "");
    EXPECT_EQ(QueryValue(end, R"(SELECT count(*) FROM "WorkshopAudit")"), "0")
        << "the migrator fired a user trigger";
    for (const std::string& from : {p.start, end_db}) {
      const std::string url = admin.Clone(from, from + "_undone");
      FaultRun undo = RunMigratorWithFault(*pg_, url, p.undo, "");
      EXPECT_EQ(undo.exit_code, 0) << absl::StrJoin(p.undo, " ") << ":\n" << undo.output;
      ref.undone.push_back(DigestOf(url, DigestKind::kApp));
      admin.Drop(from + "_undone");
    }
    admin.Drop(end_db);
    return ref;
  }

  // Stage 1, one interruption: `i.fault` on a copy of the start (`spare`
  // when the last interruption of this worker left one, else a new clone
  // named `name`), its exit checked. The store it left is kept when
  // it is the first of its kind, else dropped (or kept as `spare`).
  void Interrupt(ClusterAdmin& admin, const PhaseCase& p, Interruption& i, Spare& spare,
                 const std::string& name) {
    const std::string db = spare.db.empty() ? name : spare.db;
    const int64_t commits_before = spare.commits;
    if (spare.db.empty()) (void)admin.Clone(p.start, db);
    spare = {};
    FaultRun hit = RunMigratorWithFault(*pg_, pg_->Url(db), p.run, i.fault);
    if (hit.exit_code != i.expected_exit ||
        (i.expected_exit == 8 &&
         !absl::StrContains(hit.output, "A retry will not help until the cause is fixed"))) {
      i.problems = absl::StrCat("the interrupted run exited ", hit.exit_code, " (want ",
                                i.expected_exit, "):\n", Tail(hit.output), "\n");
    }
    const int64_t commits = admin.CommitsOnceIdle(db);
    const std::string commit_key =
        i.expected_exit == 137 && commits >= 0 ? absl::StrCat(commits - commits_before) : "";
    bool keep = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto it = by_commits_.find(commit_key);
      if (commit_key.empty() || it == by_commits_.end()) {
        lock.unlock();
        const std::string state = DigestText(DigestOf(pg_->Url(db), DigestKind::kState));
        lock.lock();
        const auto [known, first] = by_state_.emplace(state, db);
        if (!commit_key.empty()) by_commits_.emplace(commit_key, known->second);
        if (state == start_state_) start_store_ = known->second;
        keep = first;
        i.store = known->second;
      } else {
        i.store = it->second;
      }
      if (!keep && i.store == start_store_) {
        spare.db = db;  // the start, untouched: as good as a new clone
        keep = true;
      }
    }
    if (!spare.db.empty()) spare.commits = admin.CommitsOnceIdle(db);  // ours counted too
    if (!keep) admin.Drop(db);
  }

  // Stage 2, once per distinct interrupted store `db`: (a) on a clone, (b)
  // on `db` itself. What went wrong, or "".
  std::string Converge(ClusterAdmin& admin, const PhaseCase& p, const Reference& ref,
                       const std::string& db) {
    const std::string rerun = admin.Clone(db, db + "_a");
    std::string problems = absl::StrCat(Rerun(p, ref, rerun), Undo(p, ref, pg_->Url(db)));
    admin.Drop(db + "_a");
    admin.Drop(db);
    return problems;
  }

  // (a): the phase again, to the uninterrupted end state exactly.
  std::string Rerun(const PhaseCase& p, const Reference& ref, const std::string& url) {
    FaultRun rerun = RunMigratorWithFault(*pg_, url, p.run, "");
    if (rerun.exit_code != 0) {
      return absl::StrCat("(a) rerun exited ", rerun.exit_code, ":\n", Tail(rerun.output), "\n");
    }
    std::string out;
    const std::string diff = DigestDiff(ref.end, DigestOf(url, DigestKind::kFull));
    if (!diff.empty()) {
      absl::StrAppend(&out, "(a) rerun differs from the uninterrupted run:\n", diff);
    }
    return absl::StrCat(out, Leftovers("(a)", url));
  }

  // (b): the undo, to what it makes of the start or of the end.
  std::string Undo(const PhaseCase& p, const Reference& ref, const std::string& url) {
    const std::string undo = absl::StrJoin(p.undo, " ");
    FaultRun run = RunMigratorWithFault(*pg_, url, p.undo, "");
    if (run.exit_code != 0) {
      return absl::StrCat("(b) ", undo, " exited ", run.exit_code, ":\n", Tail(run.output), "\n");
    }
    std::string out;
    const StoreDigest got = DigestOf(url, DigestKind::kApp);
    if (got != ref.undone[0] && got != ref.undone[1]) {
      absl::StrAppend(&out, "(b) ", undo,
                      " ends neither as from the start nor as from the end; vs the start's:\n",
                      DigestDiff(ref.undone[0], got), "vs the end's:\n",
                      DigestDiff(ref.undone[1], got));
    }
    return absl::StrCat(out, Leftovers("(b)", url));
  }

  static std::string Leftovers(const std::string& which, const std::string& url) {
    std::string out;
    if (const std::string l = MigratorLeftovers(url); !l.empty()) {
      absl::StrAppend(&out, which, " left the migrator's objects behind:\n", l);
    }
    if (const std::string h = HistoryProblems(url); !h.empty()) {
      absl::StrAppend(&out, which, " history is not each version once, chained:\n", h);
    }
    return out;
  }

  static std::string Tail(const std::string& output) {
    return output.size() <= 1500 ? output : "..." + output.substr(output.size() - 1500);
  }

  // Stage 1 for every interruption, stage 2 for every distinct store.
  // Returns what went wrong per store.
  std::map<std::string, std::string> RunAll(const PhaseCase& p, const Reference& ref,
                                            std::vector<Interruption>& all) {
    start_state_ = DigestText(DigestOf(pg_->Url(p.start), DigestKind::kState));
    std::vector<std::unique_ptr<ClusterAdmin>> admins;
    for (int t = 0; t < kThreads; ++t) admins.push_back(std::make_unique<ClusterAdmin>(*pg_));
    std::vector<Spare> spares(kThreads);
    ParallelFor(static_cast<int>(all.size()), kThreads, [&](int worker, int n) {
      try {
        Interrupt(*admins[worker], p, all[n], spares[worker], absl::StrCat(p.name, "_", n));
      } catch (const std::exception& e) {  // a worker thread must not end the binary
        absl::StrAppend(&all[n].problems, "the test could not run it: ", e.what(), "\n");
      }
    });
    for (int t = 0; t < kThreads; ++t) {
      if (!spares[t].db.empty()) admins[t]->Drop(spares[t].db);
    }
    interrupted_ = std::chrono::steady_clock::now();
    std::vector<std::string> stores;
    for (const auto& [state, db] : by_state_) stores.push_back(db);
    std::vector<std::string> outcomes(stores.size());
    ParallelFor(static_cast<int>(stores.size()), kThreads, [&](int worker, int n) {
      try {
        outcomes[n] = Converge(*admins[worker], p, ref, stores[n]);
      } catch (const std::exception& e) {
        outcomes[n] = absl::StrCat("the test could not check it: ", e.what(), "\n");
      }
    });
    std::map<std::string, std::string> outcome_of;
    for (size_t n = 0; n < stores.size(); ++n) outcome_of[stores[n]] = outcomes[n];
    return outcome_of;
  }

  // One test failure per fault kind and way of failing (the headlines of
  // what went wrong): its steps, the first one in full.
  static void Report(const PhaseCase& p, const std::vector<Interruption>& all,
                     std::map<std::string, std::string>& outcome_of) {
    for (const std::string kind : {"kill-before=", "fail-ddl="}) {
      std::map<std::string, std::pair<std::vector<int>, std::string>> by_way;
      for (const Interruption& i : all) {
        if (!absl::StartsWith(i.fault, kind)) continue;
        const std::string what = i.problems + outcome_of[i.store];
        if (what.empty()) continue;
        auto& [steps, first] = by_way[WayOfFailing(what)];
        if (steps.empty()) first = what;
        steps.push_back(std::stoi(i.fault.substr(kind.size())));
      }
      for (const auto& [way, failed] : by_way) {
        ADD_FAILURE() << p.name << ": " << kind << " fails at " << failed.first.size()
                      << " steps: " << Ranges(failed.first) << "\nfirst (" << kind
                      << failed.first.front() << "):\n"
                      << failed.second;
      }
    }
  }

  static std::string WayOfFailing(const std::string& what) {
    std::string way;
    for (absl::string_view line : absl::StrSplit(what, '\n')) {
      if (absl::StartsWith(line, "(")) absl::StrAppend(&way, line.substr(0, 80), "\n");
    }
    return way;
  }

  // 1,2,3,5 as "1-3,5".
  static std::string Ranges(const std::vector<int>& steps) {
    std::vector<std::string> out;
    for (size_t i = 0; i < steps.size();) {
      size_t j = i;
      while (j + 1 < steps.size() && steps[j + 1] == steps[j] + 1) ++j;
      out.push_back(j == i ? absl::StrCat(steps[i]) : absl::StrCat(steps[i], "-", steps[j]));
      i = j + 1;
    }
    return absl::StrJoin(out, ",");
  }

  std::mutex mu_;
  std::map<std::string, std::string> by_state_;    // kState digest -> database holding it
  std::map<std::string, std::string> by_commits_;  // a kill's commit count -> database
  std::string start_state_, start_store_;
  std::chrono::steady_clock::time_point interrupted_;  // stage 1 done
};

TEST_P(MigrationKillTest, EveryKillAndEveryDdlFailureConverges) {
  const PhaseCase& p = GetParam();
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const Reference ref = MakeReference(p);
  const auto referenced = Clock::now();
  ASSERT_GT(ref.steps.statements, 0);
  ASSERT_EQ(MigratorLeftovers(pg_->Url(p.start)), "");
  std::vector<Interruption> all;
  for (int64_t k = 1; k <= ref.steps.statements; ++k) {
    all.push_back({absl::StrCat("kill-before=", k), 137, "", ""});
  }
  for (int64_t d = 1; d <= ref.steps.ddl; ++d) {
    all.push_back({absl::StrCat("fail-ddl=", d), 8, "", ""});
  }
  std::map<std::string, std::string> outcome_of = RunAll(p, ref, all);
  Report(p, all, outcome_of);
  const auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  std::cout << "[kill matrix] " << p.name << ": N=" << ref.steps.statements
            << " statements, M=" << ref.steps.ddl << " DDL steps, " << by_state_.size()
            << " distinct interrupted stores; seconds: reference " << seconds(referenced - start)
            << ", interruptions " << seconds(interrupted_ - referenced) << ", convergence "
            << seconds(Clock::now() - interrupted_) << "\n";
}

INSTANTIATE_TEST_SUITE_P(
    Phases, MigrationKillTest,
    ::testing::Values(
        PhaseCase{"expand", "start_none", kExpand, kRollbackExpand},
        PhaseCase{"backfill", "start_expanded", kBackfill, kRollbackBackfill},
        PhaseCase{"contract", "start_verified", kContract, kRollbackContract},
        PhaseCase{"rollback_contract", "start_contracted", kRollbackContract, kContract},
        PhaseCase{"rollback_backfill", "start_verified", kRollbackBackfill, kBackfill},
        PhaseCase{"rollback_expand", "start_rolled_back", kRollbackExpand, kExpand},
        PhaseCase{"rollback_expand_fresh", "start_expanded", kRollbackExpand, kExpand}),
    [](const ::testing::TestParamInfo<PhaseCase>& info) { return info.param.name; });

}  // namespace
}  // namespace booking::testing
