// GetBookingHistory reads a page in one round trip (the page query prepared
// per connection, the caller's deadline as a SET LOCAL statement_timeout in
// the same message). What that must not cost:
//   - the caller's deadline still bounds the database's work: a read stuck
//     behind a lock is cancelled in the store when the deadline passes, not
//     10 s later;
//   - the timeout does not outlive the call: the next read on the same
//     connection, without a deadline, waits as long as it must;
//   - a new connection (after a store restart) prepares the query itself:
//     the first read once the server is back succeeds.
// One history-service with one pooled connection (StackSuite, no
// booking-service: the reads have that connection to themselves); the
// restart is of the suite's own PostgreSQL.
#include <future>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "history/v1/history.grpc.pb.h"
#include "pqxx/pqxx"
#include "tests/support/service_set.h"
#include "tests/support/stack_suite.h"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

constexpr int kRows = 7;

class HistoryReadTest : public StackSuite {
 protected:
  static void SetUpTestSuite() {
    // One connection: every read runs on the connection the one before used.
    StartStack("read", {.history_flags = {"--db-pool-size", "1"}, .booking_replicas = 0});
    if (set_ == nullptr) return;
    pqxx::connection conn(set_->history_url());
    pqxx::work txn(conn);
    txn.exec_params(R"(
      INSERT INTO "BookingStatusHistory"
        ("eventId", "bookingId", sequence, "fromStatus", "toStatus", "changedBy", metadata)
      SELECT gen_random_uuid(), 'bk-read', s, NULL, 'CONFIRMED', 'tester',
             jsonb_build_object('n', s)
      FROM generate_series(1, $1) AS s)",
                    kRows);
    txn.commit();
  }
  void SetUp() override {
    StackSuite::SetUp();
    if (HasFatalFailure()) return;
    stub_ = history::v1::HistoryService::NewStub(
        grpc::CreateChannel(set_->history_target(), grpc::InsecureChannelCredentials()));
  }

  grpc::Status Read(std::optional<absl::Duration> deadline,
                    history::v1::GetBookingHistoryResponse* response) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", absl::StrCat("Bearer ", ServiceSet::kToken));
    if (deadline) context.set_deadline(absl::ToChronoTime(absl::Now() + *deadline));
    history::v1::GetBookingHistoryRequest request;
    request.set_booking_id("bk-read");
    return stub_->GetBookingHistory(&context, request, response);
  }

  // history-service's backends waiting for a lock right now.
  int WaitingReaders() {
    pqxx::connection conn(set_->history_url());
    pqxx::nontransaction txn(conn);
    return txn
        .exec(R"(SELECT count(*) FROM pg_stat_activity
                 WHERE application_name = 'history-service' AND wait_event_type = 'Lock')")[0][0]
        .as<int>();
  }

  // Polls `condition` until it holds or `timeout` passes (WaitFor).
  template <typename F>
  bool Eventually(F condition, absl::Duration timeout = absl::Seconds(10)) {
    return WaitFor(condition, timeout, "a condition").ok();
  }

  std::unique_ptr<history::v1::HistoryService::Stub> stub_;
};

TEST_F(HistoryReadTest, DeadlineBoundsTheStoreAndDoesNotOutliveTheCall) {
  // A read with a short deadline that succeeds: its timeout must end with it.
  history::v1::GetBookingHistoryResponse page;
  ASSERT_TRUE(Read(absl::Milliseconds(300), &page).ok()) << set_->Logs();
  ASSERT_EQ(page.entries_size(), kRows);
  EXPECT_EQ(page.entries(2).metadata().fields().at("n").number_value(), 3);

  pqxx::connection locker(set_->history_url());
  pqxx::work lock(locker);
  lock.exec(R"(LOCK TABLE "BookingStatusHistory" IN ACCESS EXCLUSIVE MODE)");

  // A read with a 300 ms deadline: the caller gives up, and so does the
  // store, long before the connection's 10 s default would end its wait.
  grpc::Status late = Read(absl::Milliseconds(300), &page);
  EXPECT_EQ(late.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << late.error_message();
  // 3 s: well past the 300 ms, well before the connection's 10 s default.
  EXPECT_TRUE(Eventually([&] { return WaitingReaders() == 0; }, absl::Seconds(3)))
      << "the store still waits for the lock after the caller's deadline";

  // No deadline on the same connection: it waits for the lock (not ended by
  // the 300 ms of the calls before) and reads the page once the lock goes.
  auto patient = std::async(std::launch::async, [&] {
    history::v1::GetBookingHistoryResponse r;
    grpc::Status s = Read(std::nullopt, &r);
    return std::make_pair(s, r.entries_size());
  });
  ASSERT_TRUE(Eventually([&] { return WaitingReaders() == 1; })) << set_->Logs();
  HoldFor(absl::Seconds(1));  // the scenario: longer than 300 ms behind the lock
  EXPECT_EQ(WaitingReaders(), 1) << "the read without a deadline was cancelled early";
  lock.abort();
  auto [status, entries] = patient.get();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(entries, kRows);
}

TEST_F(HistoryReadTest, FirstReadAfterAStoreRestartSucceeds) {
  history::v1::GetBookingHistoryResponse page;
  ASSERT_TRUE(Read(absl::Seconds(5), &page).ok()) << set_->Logs();
  ASSERT_TRUE(pg_->Restart().ok());
  // The pooled connection died with the server: the read finds it lost,
  // takes a fresh connection, prepares the page query there and answers.
  page.Clear();
  grpc::Status s = Read(absl::Seconds(10), &page);
  EXPECT_TRUE(s.ok()) << s.error_message() << "\n" << set_->Logs();
  EXPECT_EQ(page.entries_size(), kRows);
}

}  // namespace
}  // namespace booking::testing
