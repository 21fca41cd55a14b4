// Losing the database server (issue 22): both stores on a primary with a
// synchronous standby managed by pg_auto_failover (tests/support/
// pg_formation.h). Under a steady load of status changes the primary is
// SIGKILLed with its pg_autoctl (the machine lost); the monitor promotes the
// standby and the services, whose URLs name both nodes with
// target_session_attrs=read-write, reconnect to it on their own.
//
// Afterwards: every acknowledged change is in history exactly once, in
// order, and history holds nothing the booking store does not; every log
// checkpoint a client was served during the run, before and after the kill,
// is extended by the log's newest (history-verify's witness: no fork, no
// rollback); and the offline audit finds every covered leaf's row and the
// signed root.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/tlog/witness.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "history-service/checkpoint.h"
#include "history/v1/history.grpc.pb.h"
#include "tests/support/history_check.h"
#include "tests/support/pg_formation.h"
#include "tests/support/process.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"
#include "tests/support/status_load.h"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

void Step(absl::Time start, const std::string& what) {
  std::printf(
      "[failover] t=%s %s\n",
      absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Milliseconds(100))).c_str(),
      what.c_str());
  std::fflush(stdout);
}

// A client of the log during the run: GetLogCheckpoint every 50 ms, every
// distinct checkpoint it was served kept (by tree size).
class CheckpointWatcher {
 public:
  explicit CheckpointWatcher(const std::string& target)
      : stub_(history::v1::HistoryService::NewStub(
            grpc::CreateChannel(target, grpc::InsecureChannelCredentials()))),
        thread_([this] { Run(); }) {}
  ~CheckpointWatcher() { Stop(); }
  void Stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Size -> note; read after Stop.
  const std::map<int64_t, std::string>& seen() const { return seen_; }

 private:
  void Run() {
    while (!stopping_) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
      history::v1::LogCheckpoint c;
      if (stub_->GetLogCheckpoint(&context, {}, &c).ok()) seen_.emplace(c.size(), c.note());
      Pace(absl::Milliseconds(50));
    }
  }
  std::unique_ptr<history::v1::HistoryService::Stub> stub_;
  std::atomic<bool> stopping_{false};
  std::map<int64_t, std::string> seen_;  // written by thread_ only, until Stop
  std::thread thread_;
};

class FailoverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto formation = PgFormation::Start();
    ASSERT_TRUE(formation.ok()) << formation.status();
    formation_ = *std::move(formation);
    auto set = ServiceSet::Create(*formation_, "failover");
    ASSERT_TRUE(set.ok()) << set.status() << "\n" << formation_->Logs();
    set_ = *std::move(set);
    key_file_ = set_->log_dir() + "/checkpoint.key";
    ASSERT_TRUE(WriteKeyPair(key_file_).ok());
    ASSERT_TRUE(
        set_->StartHistory({"--checkpoint-key", key_file_, "--log-checkpoint-interval", "100ms"})
            .ok())
        << set_->Logs();
    ASSERT_TRUE(set_->StartBooking().ok()) << set_->Logs();
  }
  static void TearDownTestSuite() {
    set_.reset();
    formation_.reset();
  }
  void SetUp() override { ASSERT_NE(set_, nullptr); }

  // history-verify `args` against the history store; exit code and output.
  static std::pair<int, std::string> HistoryVerify(std::vector<std::string> args) {
    static int calls = 0;  // a file per call: RunCommand appends
    const std::string log = absl::StrCat(set_->log_dir(), "/history-verify-", ++calls, ".out");
    args.insert(args.begin(), HISTORY_VERIFY_BIN);
    for (const char* a : {"--database-url", "--public-key"}) args.push_back(a);
    args.insert(args.end() - 1, set_->history_url());
    args.push_back(key_file_ + ".pub");
    absl::StatusOr<int> code = RunCommand(args, {}, log);
    EXPECT_TRUE(code.ok()) << code.status();
    return {code.ok() ? *code : -1, ReadFile(log)};
  }

  // The log covers every row; every checkpoint `watcher` was served is
  // extended by the newest (history-verify's witness).
  static void ExpectEveryCheckpointExtended(int64_t rows, CheckpointWatcher& watcher) {
    ASSERT_EQ(WaitFor(
                  [&] {
                    return QueryCount(
                               set_->history_url(),
                               R"(SELECT COALESCE(max(size), 0) FROM "HistoryLogCheckpoint")") ==
                           rows;
                  },
                  absl::Seconds(60), "a log checkpoint of every row"),
              absl::OkStatus())
        << set_->Logs();
    watcher.Stop();
    ASSERT_GE(watcher.seen().size(), 2u);
    for (const auto& [size, note] : watcher.seen()) {
      const std::string file = absl::StrCat(set_->log_dir(), "/witness-", size);
      ASSERT_EQ(tlog::StoreTrustedCheckpoint(file, note), absl::OkStatus());
      const auto [code, out] = HistoryVerify({"log", "--witness", file});
      EXPECT_EQ(code, 0) << "the checkpoint of size " << size << " served during the run:\n" << out;
    }
  }

  inline static std::unique_ptr<PgFormation> formation_;
  inline static std::unique_ptr<ServiceSet> set_;
  inline static std::string key_file_;
};

// The primary SIGKILLed under the load, the standby promoted, the load
// going on; then the lost node started again, back as the synchronous
// standby.
void LoseThePrimary(absl::Time start, PgFormation& formation, StatusLoad& load,
                    const ServiceSet& s) {
  absl::StatusOr<int> primary = formation.Primary();
  ASSERT_TRUE(primary.ok()) << primary.status();
  const absl::Time killed = absl::Now();
  ASSERT_EQ(formation.Kill(*primary), absl::OkStatus()) << formation.Logs();
  Step(start, absl::StrCat("node", *primary + 1, " (primary) SIGKILLed with its pg_autoctl at ",
                           load.acked_count(), " acknowledged"));
  ASSERT_EQ(formation.WaitPromoted(*primary, absl::Seconds(90)), absl::OkStatus())
      << formation.States() << "\n"
      << formation.Logs();
  Step(start, absl::StrCat(
                  "standby promoted after ",
                  absl::FormatDuration(absl::Trunc(absl::Now() - killed, absl::Milliseconds(100))),
                  ": ", formation.States()));
  ASSERT_EQ(load.WaitForMoreAcked(1000, absl::Seconds(90)), absl::OkStatus())
      << s.Logs() << formation.Logs();
  Step(start, absl::StrCat("load goes on: ", load.acked_count(), " acknowledged"));
  ASSERT_EQ(formation.Rejoin(*primary), absl::OkStatus()) << formation.Logs();
  absl::StatusOr<std::string> standbys = formation.SynchronousStandbys();
  ASSERT_TRUE(standbys.ok()) << standbys.status();
  ASSERT_TRUE(absl::StartsWith(*standbys, "ANY 1 (")) << *standbys;
  ASSERT_EQ(load.WaitForMoreAcked(1000, absl::Seconds(90)), absl::OkStatus()) << s.Logs();
  Step(start, absl::StrCat("node", *primary + 1, " rejoined as the synchronous standby (",
                           *standbys, "); ", load.acked_count(), " acknowledged"));
}

TEST_F(FailoverTest, LosingThePrimaryLosesNothingAndForksNothing) {
  const absl::Time start = absl::Now();
  ServiceSet& s = *set_;
  // Synchronous: a commit is acknowledged once the standby has it.
  absl::StatusOr<std::string> standbys = formation_->SynchronousStandbys();
  ASSERT_TRUE(standbys.ok()) << standbys.status();
  ASSERT_TRUE(absl::StartsWith(*standbys, "ANY 1 (")) << *standbys;
  auto load = StatusLoad::Start({.target = s.booking_target(),
                                 .token = ServiceSet::kToken,
                                 .booking_prefix = "failover",
                                 .threads = 4,
                                 .bookings_per_thread = 3,
                                 // Paced: unpaced, a primary writing alone
                                 // (wait_primary) outruns the rejoining
                                 // standby on a busy machine for minutes.
                                 .interval = absl::Milliseconds(10)});
  ASSERT_TRUE(load.ok()) << load.status();
  CheckpointWatcher watcher(s.history_target());
  ASSERT_EQ((*load)->WaitForMoreAcked(1000, absl::Seconds(60)), absl::OkStatus()) << s.Logs();
  Step(start, absl::StrCat("load running: ", (*load)->acked_count(), " acknowledged; ",
                           formation_->States(), "; synchronous_standby_names ", *standbys));
  // Node 1 lost, then node 2: each store fails over and back.
  ASSERT_NO_FATAL_FAILURE(LoseThePrimary(start, *formation_, **load, s));
  ASSERT_NO_FATAL_FAILURE(LoseThePrimary(start, *formation_, **load, s));
  (*load)->Stop();

  ASSERT_EQ(WaitOutboxDrained(s), absl::OkStatus()) << s.Logs();
  Stores st = ReadStores(s);
  int64_t store_changes = 0;
  ASSERT_NO_FATAL_FAILURE(ExpectHistoryIsTheStoresChanges(st, &store_changes));
  ASSERT_NO_FATAL_FAILURE(ExpectEveryAckInHistory(**load, st, store_changes));
  Step(start, absl::StrCat("history holds the store's ", store_changes, " changes, each once"));

  ASSERT_NO_FATAL_FAILURE(ExpectEveryCheckpointExtended(st.history_rows, watcher));
  const auto [code, out] = HistoryVerify({"verify"});
  EXPECT_EQ(code, 0) << out;
  std::string failures;
  for (const auto& [name, n] : (*load)->failures()) absl::StrAppend(&failures, " ", name, "=", n);
  Step(start, absl::StrCat("summary: ", (*load)->acked_count(), " changes acknowledged, ",
                           (*load)->failed_calls(), " failed calls retried with their request id:",
                           failures, "; history rows ", st.history_rows, " = store versions ",
                           store_changes, ", 0 duplicated, 0 lost; ", watcher.seen().size(),
                           " checkpoints served during the run each extended by the newest (",
                           st.history_rows, " entries), offline audit exit ", code));
  if (HasFailure()) std::printf("%s\n%s\n", s.Logs().c_str(), formation_->Logs().c_str());
}

}  // namespace
}  // namespace booking::testing
