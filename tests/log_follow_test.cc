// A follower of the log resumes from the checkpoint it trusts and checks
// that what it receives extends it (issue 22), against a real
// history-service signing log checkpoints every 100 ms:
// - from the empty log, then from each checkpoint it trusted, paging with
//   GetLogEntries: the compact range the server sends gives the trusted
//   root, the entries extend it to the next checkpoint's root;
// - a page with an altered, left-out or reordered entry is refused, as is a
//   trusted checkpoint the log does not extend (a fork, signed with the
//   log's own key);
// - a row a superuser rewrote after it was logged breaks the follow (the
//   entry no longer gives the signed root), and a deleted one is refused by
//   the server with DATA_LOSS naming its leaf;
// - bad requests are refused naming the field, page sizes as AIP-158 says.
#include "history-service/log_follow.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/tlog/checkpoint.h"
#include "common/tlog/note_key.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "history-service/checkpoint.h"
#include "history/v1/history.grpc.pb.h"
#include "tests/support/pg_suite.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"
#include "tests/support/wait.h"
#include "tests/support/watch_client.h"

namespace booking::testing {
namespace {

constexpr char kOrigin[] = "history.booking.internal/log";

class LogFollowTest : public PgSuite {
 protected:
  static void SetUpTestSuite() {
    PgSuite::SetUpTestSuite();
    if (pg_ == nullptr) return;
    auto set = ServiceSet::Create(*pg_, "logfollow");
    ASSERT_TRUE(set.ok()) << set.status();
    set_ = *std::move(set);
    const std::string key_file = set_->log_dir() + "/checkpoint.key";
    ASSERT_TRUE(WriteKeyPair(key_file).ok());
    absl::StatusOr<SigningKey> key = LoadSigningKey(key_file);
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = *std::move(key);
    ASSERT_TRUE(
        set_->StartHistory({"--checkpoint-key", key_file, "--log-checkpoint-interval", "100ms"})
            .ok())
        << set_->Logs();
    stub_ = history::v1::HistoryService::NewStub(
        grpc::CreateChannel(set_->history_target(), grpc::InsecureChannelCredentials()));
  }
  static void TearDownTestSuite() {
    stub_.reset();
    set_.reset();
    PgSuite::TearDownTestSuite();
  }
  void SetUp() override {
    PgSuite::SetUp();
    ASSERT_NE(set_, nullptr);
  }

  // The newest checkpoint once one covers every row, opened with the key.
  static tlog::Checkpoint CheckpointOfEveryRow() {
    const int64_t rows =
        QueryCount(set_->history_url(), R"(SELECT count(*) FROM "BookingStatusHistory")");
    EXPECT_EQ(WaitFor(
                  [&] {
                    return QueryCount(
                               set_->history_url(),
                               R"(SELECT COALESCE(max(size), 0) FROM "HistoryLogCheckpoint")") >=
                           rows;
                  },
                  absl::Seconds(60), "a log checkpoint of every row"),
              absl::OkStatus());
    grpc::ClientContext context;
    history::v1::LogCheckpoint c;
    const grpc::Status s = stub_->GetLogCheckpoint(&context, {}, &c);
    EXPECT_TRUE(s.ok()) << s.error_message();
    absl::StatusOr<tlog::NoteVerifier> v =
        tlog::NoteVerifier::FromPublicKey(kOrigin, key_.public_key);
    EXPECT_TRUE(v.ok());
    absl::StatusOr<tlog::Checkpoint> opened = tlog::OpenCheckpoint(c.note(), {*v});
    EXPECT_TRUE(opened.ok()) << opened.status();
    return opened.value_or(tlog::Checkpoint{});
  }

  static grpc::Status Entries(int64_t start, int64_t end, int page_size,
                              history::v1::GetLogEntriesResponse* out) {
    grpc::ClientContext context;
    history::v1::GetLogEntriesRequest request;
    request.set_start(start);
    request.set_end(end);
    request.set_page_size(page_size);
    return stub_->GetLogEntries(&context, request, out);
  }

  // Follows from `trusted` to `next` in pages; `alter` may change each page
  // before the follower sees it. The follower's verdict.
  static absl::Status Follow(
      const tlog::Checkpoint& trusted, const tlog::Checkpoint& next, int page_size,
      const std::function<void(history::v1::GetLogEntriesResponse&)>& alter = nullptr) {
    std::optional<LogFollower> follower;
    uint64_t at = trusted.size;
    while (at < next.size || !follower) {
      history::v1::GetLogEntriesResponse page;
      const grpc::Status s =
          Entries(static_cast<int64_t>(at), static_cast<int64_t>(next.size), page_size, &page);
      if (!s.ok())
        return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
      if (alter) alter(page);
      if (!follower) {
        absl::StatusOr<LogFollower> resumed = LogFollower::Resume(trusted, page.start_range());
        if (!resumed.ok()) return resumed.status();
        follower.emplace(*std::move(resumed));
      }
      if (page.rows_size() == 0) return absl::InternalError("an empty page before the end");
      if (absl::Status a = follower->Append(page); !a.ok()) return a;
      at = follower->size();
    }
    return follower->Reached(next);
  }

  inline static std::unique_ptr<ServiceSet> set_;
  inline static SigningKey key_;
  inline static std::unique_ptr<history::v1::HistoryService::Stub> stub_;
};

tlog::Checkpoint Empty() { return {kOrigin, 0, tlog::EmptyRoot(), {}}; }

TEST_F(LogFollowTest, AFollowerResumesFromEachCheckpointItTrusted) {
  for (int b = 0; b < 12; ++b)
    IngestAll(set_->history_target(), Chain(absl::StrCat("f-", b), 1, 5, 1000 * b));
  const tlog::Checkpoint first = CheckpointOfEveryRow();
  ASSERT_EQ(first.size, 60u);
  EXPECT_EQ(Follow(Empty(), first, 7), absl::OkStatus());
  EXPECT_EQ(Follow(Empty(), first, 0), absl::OkStatus());  // 0: the default page
  for (int b = 12; b < 20; ++b)
    IngestAll(set_->history_target(), Chain(absl::StrCat("f-", b), 1, 3, 1000 * b));
  const tlog::Checkpoint second = CheckpointOfEveryRow();
  ASSERT_EQ(second.size, 84u);
  // Resumed from what it trusted: only the new entries travel.
  EXPECT_EQ(Follow(first, second, 5), absl::OkStatus());
  EXPECT_EQ(Follow(first, second, 100000), absl::OkStatus());  // above 1000 means 1000
  history::v1::GetLogEntriesResponse page;
  ASSERT_TRUE(Entries(first.size, second.size, 1000, &page).ok());
  EXPECT_EQ(page.rows_size(), 24);
  EXPECT_EQ(page.start_range_size(), __builtin_popcountll(first.size));
  // From a size no checkpoint signed, against the server's own range: the
  // follower's trust is what it checks, so only a signed root will do.
  tlog::Checkpoint unsigned_mid = first;
  unsigned_mid.size = 30;
  EXPECT_EQ(Follow(unsigned_mid, second, 10).code(), absl::StatusCode::kDataLoss);
}

TEST_F(LogFollowTest, AlteredLeftOutOrReorderedEntriesAreRefused) {
  IngestAll(set_->history_target(), Chain("altered", 1, 10, 30000));
  const tlog::Checkpoint now = CheckpointOfEveryRow();
  ASSERT_GE(now.size, 10u);
  using Page = history::v1::GetLogEntriesResponse;
  const std::vector<std::pair<std::string, std::function<void(Page&)>>> forgeries = {
      {"altered", [](Page& p) { p.mutable_rows(0)->mutable_canonical()->append("x"); }},
      // Proven bytes of the real row, another row shown.
      {"shown as another row",
       [](Page& p) { p.mutable_rows(p.rows_size() - 1)->mutable_entry()->set_to_status("X"); }},
      {"another time shown",
       [](Page& p) {
         auto* t = p.mutable_rows(0)->mutable_entry()->mutable_create_time();
         t->set_seconds(t->seconds() + 1);
       }},
      // Only on a page of two or more (a page after one left out holds one).
      {"left out",
       [](Page& p) {
         if (p.rows_size() > 1) p.mutable_rows()->DeleteSubrange(1, 1);
       }},
      {"reordered",
       [](Page& p) {
         if (p.rows_size() > 1) p.mutable_rows()->SwapElements(0, 1);
       }},
  };
  for (const auto& [what, alter] : forgeries) {
    const absl::Status s = Follow(Empty(), now, 1000, alter);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << what << ": " << s;
  }
  // A trusted checkpoint of the right size whose tree the log does not
  // extend (another history, signed with the log's own key): a fork.
  tlog::Checkpoint forked = now;
  forked.size = now.size / 2;
  forked.root = tlog::LeafHash("another history");
  const absl::Status fork = Follow(forked, now, 1000);
  EXPECT_EQ(fork.code(), absl::StatusCode::kDataLoss) << fork;
  EXPECT_TRUE(absl::StrContains(fork.message(), "forked or rewritten")) << fork;
}

TEST_F(LogFollowTest, BadRequestsAreRefusedNamingTheField) {
  IngestAll(set_->history_target(), Chain("bad-requests", 1, 6, 31000));
  const tlog::Checkpoint now = CheckpointOfEveryRow();
  const int64_t size = static_cast<int64_t>(now.size);
  history::v1::GetLogEntriesResponse page;
  const struct {
    int64_t start, end;
    int page_size;
    grpc::StatusCode code;
    const char* names;
  } cases[] = {
      {-1, size, 10, grpc::StatusCode::INVALID_ARGUMENT, "start"},
      {5, 5, 10, grpc::StatusCode::INVALID_ARGUMENT, "end"},
      {5, 4, 10, grpc::StatusCode::INVALID_ARGUMENT, "end"},
      {0, size, -1, grpc::StatusCode::INVALID_ARGUMENT, "page_size"},
      {0, size + 1000000, 10, grpc::StatusCode::OUT_OF_RANGE, "newest log checkpoint"},
      {0, INT64_MAX, 10, grpc::StatusCode::OUT_OF_RANGE, "newest log checkpoint"},
      {INT64_MIN, 1, 10, grpc::StatusCode::INVALID_ARGUMENT, "start"},
  };
  for (const auto& c : cases) {
    const grpc::Status s = Entries(c.start, c.end, c.page_size, &page);
    EXPECT_EQ(s.error_code(), c.code) << c.start << ".." << c.end << ": " << s.error_message();
    EXPECT_TRUE(absl::StrContains(s.error_message(), c.names)) << s.error_message();
  }
}

// Last: it alters the store.
TEST_F(LogFollowTest, ARowRewrittenOrDeletedAfterItWasLoggedBreaksTheFollow) {
  for (int b = 0; b < 2; ++b)
    IngestAll(set_->history_target(), Chain(absl::StrCat("tampered-", b), 1, 5, 32000 + 100 * b));
  const tlog::Checkpoint now = CheckpointOfEveryRow();
  Exec(set_->history_url(), R"(
    ALTER TABLE "BookingStatusHistory" DISABLE TRIGGER "BookingStatusHistory_no_update_delete";
    UPDATE "BookingStatusHistory" SET reason = 'rewritten'
      WHERE "bookingId" = 'tampered-0' AND sequence = 2;
    ALTER TABLE "BookingStatusHistory" ENABLE TRIGGER "BookingStatusHistory_no_update_delete";)");
  const absl::Status rewritten = Follow(Empty(), now, 1000);
  EXPECT_EQ(rewritten.code(), absl::StatusCode::kDataLoss) << rewritten;
  Exec(set_->history_url(), R"(
    ALTER TABLE "BookingStatusHistory" DISABLE TRIGGER "BookingStatusHistory_no_update_delete";
    DELETE FROM "BookingStatusHistory" WHERE "bookingId" = 'tampered-1' AND sequence = 5;
    ALTER TABLE "BookingStatusHistory" ENABLE TRIGGER "BookingStatusHistory_no_update_delete";)");
  history::v1::GetLogEntriesResponse page;
  const grpc::Status gone = Entries(0, static_cast<int64_t>(now.size), 1000, &page);
  EXPECT_EQ(gone.error_code(), grpc::StatusCode::DATA_LOSS) << gone.error_message();
  EXPECT_TRUE(absl::StrContains(gone.error_message(), "names booking tampered-1 sequence 5"))
      << gone.error_message();
}

}  // namespace
}  // namespace booking::testing
