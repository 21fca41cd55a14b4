// history.v1.HistoryService/WatchHistory against a real history-service and
// PostgreSQL: entries arrive live in per-booking order, and a watcher that
// disconnects, outlives a SIGKILL of the server or is cut off as too slow
// resumes from its token with nothing skipped or repeated.
#include <signal.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "history-service/page_token.h"
#include "history-service/watch_feed.h"
#include "tests/support/grpc_client.h"
#include "tests/support/ingest_client.h"
#include "tests/support/pg_suite.h"
#include "tests/support/process.h"
#include "tests/support/service_set.h"
#include "tests/support/wait.h"
#include "tests/support/watch_client.h"

namespace booking::testing {
namespace {

// A small buffer and stall timeout, so that a stalled watcher is cut off soon.
constexpr int kBuffer = 40;
const std::vector<std::string> kFlags = {"--watch-buffer", absl::StrCat(kBuffer),
                                         "--watch-stall-timeout", "1s"};

class WatchHistoryTest : public PgSuite {
 protected:
  static void SetUpTestSuite() {
    PgSuite::SetUpTestSuite();
    if (pg_ == nullptr) return;
    auto set = ServiceSet::Create(*pg_, "watch");
    ASSERT_TRUE(set.ok()) << set.status();
    set_ = *std::move(set);
    ASSERT_TRUE(set_->StartHistory(kFlags).ok()) << set_->Logs();
  }
  static void TearDownTestSuite() {
    set_.reset();
    PgSuite::TearDownTestSuite();
  }
  void SetUp() override {
    PgSuite::SetUp();
    ASSERT_NE(set_, nullptr);
  }

  static history::v1::WatchHistoryRequest FromNow() { return {}; }
  static history::v1::WatchHistoryRequest From(const std::string& token) {
    return ResumeFrom(token);
  }
  static std::unique_ptr<WatchClient> Open(const history::v1::WatchHistoryRequest& request) {
    return OpenWatch(set_->history_target(), request);
  }
  static void Ingest(const std::vector<history::v1::StatusChangeEvent>& events) {
    IngestAll(set_->history_target(), events);
  }
  static std::vector<std::string> Until(WatchClient& w, const std::string& sentinel) {
    return KeysUntil(w, sentinel);
  }
  static std::vector<std::string> Expected(const std::string& booking, int first, int last) {
    return ExpectedKeys(booking, first, last);
  }
  static int LogCount(absl::string_view line) {
    std::vector<std::string> parts =
        absl::StrSplit(ReadFile(set_->log_dir() + "/history.log"), line);
    return static_cast<int>(parts.size()) - 1;
  }

  inline static std::unique_ptr<ServiceSet> set_;
};

TEST_F(WatchHistoryTest, EntriesStoredAfterTheWatchStartedArriveInPerBookingOrder) {
  auto w = Open(FromNow());
  IngestClient one(set_->history_target()), two(set_->history_target());
  for (int s = 1; s <= 5; ++s) {  // two streams, interleaved bookings
    std::vector<history::v1::StatusChangeEvent> batch = Chain("live-a", s, s, 100);
    batch.push_back(Chain("live-b", s, s, 200)[0]);
    ASSERT_TRUE(one.Send(batch).ok());
    ASSERT_TRUE(two.Send(Chain("live-c", s, s, 300)).ok());
  }
  Ingest(Chain("live-end", 1, 1, 400));
  std::map<std::string, std::vector<int64_t>> by_booking;
  std::vector<std::string> keys = Until(*w, "live-end");
  ASSERT_EQ(keys.size(), 16u) << absl::StrJoin(keys, " ");
  for (const std::string& k : keys) {
    std::pair<std::string, std::string> parts = absl::StrSplit(k, ':');
    by_booking[parts.first].push_back(std::stoll(parts.second));
  }
  for (const char* b : {"live-a", "live-b", "live-c"}) {
    EXPECT_EQ(by_booking[b], (std::vector<int64_t>{1, 2, 3, 4, 5})) << b;
  }
}

TEST_F(WatchHistoryTest, ResumeAfterADisconnectDeliversWhatCameMeanwhileOnce) {
  auto w = Open(FromNow());
  Ingest(Chain("gone", 1, 5, 1000));
  ASSERT_EQ(Keys(w->Entries(3)), Expected("gone", 1, 3));
  const std::string token = w->last_token();
  w.reset();  // disconnects
  Ingest(Chain("gone", 6, 8, 1000));
  auto resumed = Open(From(token));
  Ingest(Chain("gone-end", 1, 1, 1100));
  std::vector<std::string> want = Expected("gone", 4, 8);
  want.push_back("gone-end:1");
  EXPECT_EQ(Until(*resumed, "gone-end"), want);
}

TEST_F(WatchHistoryTest, ResumeAfterTheServerWasKilledAndRestarted) {
  auto w = Open(FromNow());
  Ingest(Chain("killed", 1, 4, 2000));
  ASSERT_EQ(Keys(w->Entries(2)), Expected("killed", 1, 2));
  const std::string token = w->last_token();
  ASSERT_TRUE(set_->StopHistory(SIGKILL).ok());
  w.reset();
  ASSERT_TRUE(set_->StartHistory(kFlags).ok()) << set_->Logs();
  Ingest(Chain("killed", 5, 6, 2000));
  auto resumed = Open(From(token));
  Ingest(Chain("killed-end", 1, 1, 2100));
  std::vector<std::string> want = Expected("killed", 3, 6);
  want.push_back("killed-end:1");
  EXPECT_EQ(Until(*resumed, "killed-end"), want);
}

TEST_F(WatchHistoryTest, ASlowWatcherIsCutOffAndResumesFromItsToken) {
  const int cut_before = LogCount("watch cut off: too slow");
  auto w = OpenWatch(set_->history_target(), FromNow(), /*small_window=*/true);
  // The watcher reads nothing while entries keep coming, until the server
  // says it cut it off (gRPC's own buffers take some first).
  int stored = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (LogCount("watch cut off: too slow") == cut_before && absl::Now() < deadline) {
    Ingest(Chain("slow", stored + 1, stored + 20, 10000));
    stored += 20;
    Pace(absl::Milliseconds(50));
  }
  ASSERT_GT(LogCount("watch cut off: too slow"), cut_before) << set_->Logs();
  std::vector<std::string> got = Keys(w->Entries(stored + 1));
  grpc::Status end = w->Finish();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << end.error_message();
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(FindDetail(end, &info));
  EXPECT_EQ(info.reason(), "WATCH_TOO_SLOW");
  EXPECT_LT(static_cast<int>(got.size()), stored);
  auto resumed = Open(From(w->last_token()));
  Ingest(Chain("slow-end", 1, 1, 20000));
  for (const std::string& k : Until(*resumed, "slow-end")) got.push_back(k);
  std::vector<std::string> want = Expected("slow", 1, stored);
  want.push_back("slow-end:1");
  EXPECT_EQ(got, want);  // every entry once, in order, across the cut
}

TEST_F(WatchHistoryTest, ABurstLargerThanTheBufferReachesAReadingWatcher) {
  auto w = Open(FromNow());
  Ingest(Chain("burst", 1, kBuffer * 5, 30000));  // one commit, one notification
  Ingest(Chain("burst-end", 1, 1, 40000));
  std::vector<std::string> want = Expected("burst", 1, kBuffer * 5);
  want.push_back("burst-end:1");
  EXPECT_EQ(Until(*w, "burst-end"), want);
}

TEST_F(WatchHistoryTest, OneBookingsWatchFromTheStartSeesOnlyItsEntries) {
  for (int s = 1; s <= 3; ++s) {
    std::vector<history::v1::StatusChangeEvent> batch = Chain("only-f", s, s, 3000);
    batch.push_back(Chain("only-g", s, s, 3100)[0]);
    Ingest(batch);
  }
  history::v1::WatchHistoryRequest request;
  request.set_booking_id("only-f");
  request.set_from_start(true);
  auto w = Open(request);
  Ingest(Chain("only-g", 4, 4, 3100));
  Ingest(Chain("only-f", 4, 6, 3000));
  EXPECT_EQ(Keys(w->Entries(6)), Expected("only-f", 1, 6));
}

TEST_F(WatchHistoryTest, BadRequestsAreRefusedWithDetails) {
  auto refused = [](const history::v1::WatchHistoryRequest& r) {
    WatchClient w(set_->history_target(), r);
    EXPECT_FALSE(w.Next().has_value());
    return w.Finish();
  };
  // Tokens signed with the server's key, as if it had made them.
  absl::StatusOr<TokenKeys> keys = TokenKeys::FromFile(set_->log_dir() + "/page-token-key");
  ASSERT_TRUE(keys.ok()) << keys.status();
  InstallTokenKeys(*std::move(keys));
  history::v1::WatchHistoryRequest both = From(EncodeToken(FeedPosition::After(1), ""));
  both.set_from_start(true);
  history::v1::WatchHistoryRequest other_booking = From(EncodeToken(FeedPosition::After(1), ""));
  other_booking.set_booking_id("only-f");
  const std::string valid = EncodeToken(FeedPosition::After(1), "");
  for (const history::v1::WatchHistoryRequest& r :
       {From("not a token"), From("dzE6eA"), both, other_booking,
        From(valid.substr(0, valid.size() - 2)),
        From(EncodeToken(FeedPosition::After(int64_t{1} << 50), ""))}) {
    grpc::Status st = refused(r);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << r.DebugString();
    google::rpc::BadRequest bad;
    EXPECT_TRUE(FindDetail(st, &bad)) << st.error_message();
  }
}

// Last: it stops the server.
TEST_F(WatchHistoryTest, DrainEndsWatchesSoShutdownIsNotHeld) {
  auto w = Open(FromNow());
  set_->SignalHistory(SIGTERM);
  EXPECT_FALSE(w->Next().has_value());
  grpc::Status end = w->Finish();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::UNAVAILABLE) << end.error_message();
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(FindDetail(end, &info));
  EXPECT_EQ(info.reason(), "SHUTTING_DOWN");
  absl::StatusOr<int> code = set_->WaitHistory(absl::Seconds(60));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  EXPECT_GT(LogCount("watches end for shutdown"), 0);
}

}  // namespace
}  // namespace booking::testing
