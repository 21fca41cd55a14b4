// Readers cannot starve the writer: on a store of 1,000,000 hash-chained
// history rows with a signed checkpoint, 32 callers loop on VerifyHistory,
// ListHistory and GetBookingHistory as fast as answers come while an Ingest
// client delivers batches; no batch is refused. Ingest keeps its own
// connections (--db-ingest-pool-size) and one principal runs at most
// --max-reads-per-caller reads at once, the others waiting --read-wait for a
// place: first all three (the defaults), then reads beyond the bound refused
// at once, then the separate pool alone (no per-caller bound). Ingest's latency idle and under
// the readers is printed, never asserted (the machine is shared; speed is
// bench/history/history_verify_bench's). Label "starvation" to leave out.
#include <csignal>
#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "history/v1/history.grpc.pb.h"
#include "tests/support/pg_suite.h"
#include "tests/support/read_load.h"
#include "tests/support/service_set.h"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

constexpr int kBookings = 100000;
constexpr int kPerBooking = 10;
constexpr int kReaders = 32;
constexpr int kBatches = 100;
constexpr int kBatchSize = 20;

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

class ReadStarvationTest : public PgSuite {
 protected:
  static void SetUpTestSuite() {
    PgSuite::SetUpTestSuite();
    auto set = ServiceSet::Create(*pg_, "starve");
    ASSERT_TRUE(set.ok()) << set.status();
    set_ = *std::move(set);
    const absl::Time start = absl::Now();
    ASSERT_TRUE(LoadChainedHistory(set_->history_url(), kBookings, kPerBooking).ok());
    std::printf("loaded %d history rows in %.1f s\n", kBookings * kPerBooking,
                absl::ToDoubleSeconds(absl::Now() - start));
    key_ = set_->log_dir() + "/checkpoint.key";
    std::ofstream(key_) << std::string(64, '7') << "\n";  // any 32-byte seed in hex
    // The first checkpoint of the loaded store, signed at once.
    ASSERT_TRUE(
        set_->StartHistory({"--checkpoint-key", key_, "--checkpoint-interval", "200ms"}).ok())
        << set_->Logs();
    ASSERT_TRUE(
        WaitForCheckpoint(set_->history_url(), kBookings * kPerBooking, absl::Minutes(2)).ok())
        << set_->Logs();
    ASSERT_EQ(set_->StopHistory(SIGTERM).value_or(-1), 0) << set_->Logs();
  }
  static void TearDownTestSuite() {
    set_.reset();
    PgSuite::TearDownTestSuite();
  }

  // Ingest idle, then beside kReaders readers, on history-service started
  // with `flags`: nothing refused either way; latencies printed.
  void IngestBesideReaders(const std::string& label, const std::vector<std::string>& flags,
                           int64_t first_event, bool expect_per_caller_refusals,
                           Readers::Pushback pushback = Readers::Pushback::kIgnore) {
    std::vector<std::string> all = {"--checkpoint-key", key_};
    all.insert(all.end(), flags.begin(), flags.end());
    ASSERT_TRUE(set_->StartHistory(all).ok()) << set_->Logs();
    const std::string target = set_->history_target();
    const IngestRun idle =
        MeasureIngest(target, label + "-idle", first_event, kBatches, kBatchSize);
    EXPECT_EQ(idle.refused + idle.failed, 0) << idle.first_error;

    Readers readers(target, kBookings, kReaders, pushback);
    EXPECT_EQ(WaitFor([&] { return readers.calls() >= 2 * kReaders; }, absl::Seconds(30),
                      "two calls per reader", absl::Milliseconds(10)),
              absl::OkStatus());
    const IngestRun loaded = MeasureIngest(
        target, label + "-loaded", first_event + kBatches * kBatchSize, kBatches, kBatchSize);
    const Readers::Counts counts = readers.Stop();

    // The point: no reader, however many or slow, makes Ingest refuse.
    EXPECT_EQ(loaded.refused, 0) << loaded.first_error << "\n" << set_->Logs();
    EXPECT_EQ(loaded.failed, 0) << loaded.first_error;
    EXPECT_EQ(loaded.latencies.size(), static_cast<size_t>(kBatches));
    EXPECT_GT(counts.ok, 0);
    EXPECT_EQ(counts.other, 0) << counts.first_other;
    if (expect_per_caller_refusals) {
      EXPECT_GT(counts.exhausted, 0);
    }
    std::printf(
        "[%s] Ingest batch of %d: idle p50 %.2f ms p99 %.2f ms; beside %d readers p50 %.2f ms "
        "p99 %.2f ms; reads answered %lld, refused RESOURCE_EXHAUSTED %lld\n",
        label.c_str(), kBatchSize, Ms(Quantile(idle.latencies, 0.5)),
        Ms(Quantile(idle.latencies, 0.99)), kReaders, Ms(Quantile(loaded.latencies, 0.5)),
        Ms(Quantile(loaded.latencies, 0.99)), static_cast<long long>(counts.ok),
        static_cast<long long>(counts.exhausted));
    ASSERT_EQ(set_->StopHistory(SIGTERM).value_or(-1), 0) << set_->Logs();
  }

  inline static std::unique_ptr<ServiceSet> set_;
  inline static std::string key_;
};

TEST_F(ReadStarvationTest, VerifyHistoryOfOneBookingLinksToTheCheckpointHead) {
  ASSERT_TRUE(set_->StartHistory({"--checkpoint-key", key_}).ok()) << set_->Logs();
  auto stub = history::v1::HistoryService::NewStub(
      grpc::CreateChannel(set_->history_target(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  history::v1::VerifyHistoryRequest request;
  request.set_booking_id(LoadedBookingId(4242));
  history::v1::VerifyHistoryResponse response;
  grpc::Status s = stub->VerifyHistory(&context, request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(response.verified()) << response.problem();
  EXPECT_EQ(response.rows_size(), kPerBooking);
  EXPECT_EQ(response.checkpoint().row_count(), kBookings * kPerBooking);
  EXPECT_EQ(response.checkpoint_sequence(), kPerBooking);
  EXPECT_EQ(response.checkpoint_row_hash(), response.rows(kPerBooking - 1).row_hash());
  EXPECT_TRUE(response.audit_path().empty());  // the tree is not rebuilt per call
  ASSERT_EQ(set_->StopHistory(SIGTERM).value_or(-1), 0) << set_->Logs();
}

// Readers that call again at once: beyond the per-caller bound a read waits
// (--read-wait) for a place, so they are slowed to the pace of the bound
// rather than refused in a storm; few or none are refused.
TEST_F(ReadStarvationTest, IngestIsNeverRefusedBesideThirtyTwoReaders) {
  IngestBesideReaders("defaults", {}, 1, /*expect_per_caller_refusals=*/false);
}

// Reads beyond the bound refused at once, and readers that wait out the
// RetryInfo of a refusal, as a client following the server's pushback does.
TEST_F(ReadStarvationTest, ReadersHonouringPushbackLeaveIngestItsPace) {
  IngestBesideReaders("refused at once, readers honour RetryInfo", {"--read-wait", "0"}, 2000000,
                      /*expect_per_caller_refusals=*/true, Readers::Pushback::kHonour);
}

TEST_F(ReadStarvationTest, IngestsOwnPoolAloneKeepsItGoing) {
  IngestBesideReaders("no per-caller bound", {"--max-reads-per-caller", "0"}, 1000000,
                      /*expect_per_caller_refusals=*/false);
}

}  // namespace
}  // namespace booking::testing
