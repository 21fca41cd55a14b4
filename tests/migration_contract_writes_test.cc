// Writers through contract: booking-service prepares its status change's
// statements once per connection, and contract swaps the status enum for a
// new type (new oid) under them. A service that keeps writing through the
// swap, on the same pooled connections, must see no error: every call is
// answered OK, the first time (no retry hides a failure), and every
// acknowledged change reaches history.
#include "gtest/gtest.h"
#include "tests/support/fixtures.h"
#include "tests/support/pg_suite.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"
#include "tests/support/status_load.h"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

class MigrationContractWritesTest : public PgSuite {
 protected:
  void Migrate(std::vector<std::string> args) {
    args.push_back("--progress=lines");
    MigratorRun run = RunMigrator(*pg_, set_->booking_url(), set_->history_url(), args);
    ASSERT_EQ(run.exit_code, 0) << args[0] << ":\n" << run.output << set_->Logs();
  }

  // Lets the clients make `n` more acknowledged changes.
  void Serve(int64_t n) {
    ASSERT_EQ(load_->WaitForMoreAcked(n, absl::Minutes(2)), absl::OkStatus()) << "clients stalled\n"
                                                                              << set_->Logs();
  }

  std::unique_ptr<ServiceSet> set_;
  std::unique_ptr<StatusLoad> load_;
};

TEST_F(MigrationContractWritesTest, WritersSeeNoErrorWhenContractSwapsTheType) {
  auto set =
      ServiceSet::CreateSeeded(*pg_, "swap", FixturePath("prisma_booking_store.sql"), {"rows=300"});
  ASSERT_TRUE(set.ok()) << set.status();
  set_ = *std::move(set);
  for (const char* phase : {"expand", "backfill", "verify"})
    ASSERT_NO_FATAL_FAILURE(Migrate({phase}));
  ASSERT_TRUE(set_->StartHistory().ok()) << set_->Logs();
  ASSERT_TRUE(set_->StartBooking().ok()) << set_->Logs();
  auto load = StatusLoad::Start({.target = set_->booking_target(),
                                 .token = ServiceSet::kToken,
                                 .booking_prefix = "swap",
                                 .threads = 3,
                                 .bookings_per_thread = 3,
                                 .retry_until_ok = false,
                                 .call_timeout = absl::Seconds(10),
                                 .lifecycle = true});
  ASSERT_TRUE(load.ok()) << load.status();
  load_ = *std::move(load);
  // Every pooled connection has prepared the statements before the swap.
  ASSERT_NO_FATAL_FAILURE(Serve(100));
  const std::string oid_before =
      QueryValue(set_->booking_url(), R"(SELECT '"BookingStatus"'::regtype::oid::text)");
  ASSERT_NO_FATAL_FAILURE(Migrate({"contract", "--compatibility-window=0s"}));
  EXPECT_NE(QueryValue(set_->booking_url(), R"(SELECT '"BookingStatus"'::regtype::oid::text)"),
            oid_before)
      << "contract did not replace the type: the test shows nothing";
  ASSERT_NO_FATAL_FAILURE(Serve(100));
  load_->Stop();
  EXPECT_EQ(load_->failed_calls(), 0) << "a writer saw an error through contract";
  for (const auto& [code, n] : load_->failures()) ADD_FAILURE() << n << " calls failed " << code;
  EXPECT_TRUE(WaitForCount(set_->booking_url(), R"(SELECT count(*) FROM "BookingOutbox")", 0,
                           absl::Minutes(2)))
      << "events stayed in the outbox\n"
      << set_->Logs();
  EXPECT_EQ(QueryCount(set_->history_url(), R"(SELECT count(*) FROM "BookingStatusHistory"
                                              WHERE "changedBy" <> 'migrator')"),
            static_cast<int64_t>(load_->acked().size()));
}

}  // namespace
}  // namespace booking::testing
