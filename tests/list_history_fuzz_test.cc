// Seeded fuzzing of ListHistory's inputs against a real history-service and
// PostgreSQL: filters built from the grammar (list_filter.h) and around it
// (every field and operator, extreme and malformed times, huge numbers,
// unicode and broken UTF-8, long strings, nesting), order_by, page_size,
// and page tokens real, replayed with another filter, altered, truncated,
// built by hand or signed under another key; GetBookingHistory's page
// tokens and WatchHistory's resume tokens likewise. Every answer must be OK, or INVALID_ARGUMENT
// with a message and a BadRequest naming a request field: never INTERNAL, UNKNOWN or any other
// code. An altered token must never be taken.
//
//   LIST_HISTORY_FUZZ_SEEDS=first:count  the seeds (default 0:4000, about
//                                        20 s on 2 busy cores)
//   LIST_HISTORY_FUZZ_SEED=n             one seed
//
// The issue's inputs (year 0 and -1, tokens carrying extreme microseconds)
// are fixed regression cases.
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/input_check.h"
#include "gtest/gtest.h"
#include "history-service/list_history.h"
#include "history-service/page_token.h"
#include "history/v1/history.grpc.pb.h"
#include "tests/support/grpc_client.h"
#include "tests/support/ingest_client.h"
#include "tests/support/list_fuzz_gen.h"
#include "tests/support/pg_suite.h"
#include "tests/support/service_set.h"
#include "tests/support/watch_client.h"

namespace booking::testing {
namespace {

using history::v1::ListHistoryRequest;
using history::v1::ListHistoryResponse;

// What the seeds' calls were answered, for the run's summary.
struct FuzzTally {
  int64_t calls = 0, ok = 0, invalid = 0, pages_with_token = 0, altered_refused = 0;
};

class ListHistoryFuzzTest : public PgSuite {
 protected:
  static void SetUpTestSuite() {
    PgSuite::SetUpTestSuite();
    if (pg_ == nullptr) return;
    auto set = ServiceSet::Create(*pg_, "list_fuzz");
    ASSERT_TRUE(set.ok()) << set.status();
    set_ = *std::move(set);
    ASSERT_TRUE(set_->StartHistory().ok());
    stub_ = history::v1::HistoryService::NewStub(
        grpc::CreateChannel(set_->history_target(), grpc::InsecureChannelCredentials()));
    IngestClient ingest(set_->history_target());
    absl::StatusOr<history::v1::IngestAck> ack = ingest.Send(FuzzStory());
    ASSERT_TRUE(ack.ok()) << ack.status() << set_->Logs();
    ASSERT_EQ(ack->stored(), static_cast<int>(FuzzStory().size())) << ack->DebugString();
    // This process signs as the server does: tokens "the server made".
    absl::StatusOr<TokenKeys> keys = TokenKeys::FromFile(set_->log_dir() + "/page-token-key");
    ASSERT_TRUE(keys.ok()) << keys.status();
    InstallTokenKeys(*std::move(keys));
  }
  static void TearDownTestSuite() {
    stub_.reset();
    set_.reset();
    PgSuite::TearDownTestSuite();
  }
  void SetUp() override {
    PgSuite::SetUp();
    ASSERT_NE(stub_, nullptr);
  }

  static grpc::Status List(const ListHistoryRequest& request, ListHistoryResponse* response) {
    return stub_->ListHistory(AuthedContext(ServiceSet::kToken).get(), request, response);
  }
  static grpc::Status Get(const history::v1::GetBookingHistoryRequest& request,
                          history::v1::GetBookingHistoryResponse* response = nullptr) {
    history::v1::GetBookingHistoryResponse ignored;
    return stub_->GetBookingHistory(AuthedContext(ServiceSet::kToken).get(), request,
                                    response != nullptr ? response : &ignored);
  }
  void RunSeed(uint64_t seed);

  // Every page's entries, page_size 1: a token after each.
  static std::vector<history::v1::HistoryEntry> ListAll(const std::string& filter,
                                                        const std::string& order_by) {
    std::vector<history::v1::HistoryEntry> out;
    ListHistoryRequest request;
    request.set_filter(filter);
    request.set_order_by(order_by);
    request.set_page_size(1);
    for (int pages = 0; pages < 100; ++pages) {
      ListHistoryResponse page;
      const grpc::Status s = List(request, &page);
      EXPECT_TRUE(s.ok()) << filter << ": " << s.error_message() << set_->Logs();
      if (!s.ok()) break;
      out.insert(out.end(), page.entries().begin(), page.entries().end());
      if (page.next_page_token().empty()) break;
      request.set_page_token(page.next_page_token());
    }
    return out;
  }

  inline static FuzzTally tally_;
  static void Count(const grpc::Status& s) {
    ++tally_.calls;
    ++(s.ok() ? tally_.ok : tally_.invalid);
  }

  inline static std::unique_ptr<ServiceSet> set_;
  inline static std::unique_ptr<history::v1::HistoryService::Stub> stub_;
};

// What is wrong with the answer `s` (empty: nothing). OK, or
// INVALID_ARGUMENT with a message and a field violation on one of `fields`.
std::string Problem(const grpc::Status& s, const std::set<std::string>& fields) {
  if (s.ok()) return "";
  if (s.error_code() != grpc::StatusCode::INVALID_ARGUMENT) {
    return absl::StrCat("code ", s.error_code(), ": ", s.error_message());
  }
  if (s.error_message().empty()) return "INVALID_ARGUMENT without a message";
  // A message that does not parse (a string that is not UTF-8) names no
  // field: the whole request is refused.
  google::rpc::ErrorInfo info;
  if (FindDetail(s, &info) && info.reason() == "UNPARSEABLE_REQUEST") return "";
  google::rpc::BadRequest bad;
  if (!FindDetail(s, &bad) || bad.field_violations_size() == 0) {
    return absl::StrCat("no BadRequest: ", s.error_message());
  }
  if (fields.count(bad.field_violations(0).field()) == 0) {
    return absl::StrCat("violation on \"", bad.field_violations(0).field(),
                        "\": ", s.error_message());
  }
  return "";
}

const std::set<std::string> kListFields = {"filter", "order_by", "page_size", "page_token"};

std::string Shown(const google::protobuf::Message& m) {
  return absl::CHexEscape(m.ShortDebugString());
}

// One seed: a request, and (when it is valid and pages) its token replayed
// as given, altered, and with another filter or order.
void ListHistoryFuzzTest::RunSeed(uint64_t seed) {
  ListFuzzGen gen(seed);
  const ListHistoryRequest request = gen.Request();
  ListHistoryResponse page;
  const grpc::Status first = List(request, &page);
  Count(first);
  ASSERT_EQ(Problem(first, kListFields), "") << "seed " << seed << ": " << Shown(request);
  for (const auto& e : page.entries()) {
    ASSERT_TRUE(
        CheckTimeMicros("", e.create_time().seconds() * 1000000 + e.create_time().nanos() / 1000)
            .ok())
        << "seed " << seed;
  }
  std::string token = page.next_page_token();
  if (!token.empty()) ++tally_.pages_with_token;
  if (token.empty()) token = gen.HandMadeToken();
  for (int i = 0; i < 4; ++i) {
    ListHistoryRequest next = request;
    const bool altered = gen.Chance(0.6);
    next.set_page_token(altered ? gen.Mutate(token) : token);
    if (!altered && gen.Chance(0.5)) {
      next.set_filter(gen.Filter());
      next.set_order_by(gen.OrderBy());
    }
    ListHistoryResponse out;
    const grpc::Status s = List(next, &out);
    Count(s);
    ASSERT_EQ(Problem(s, kListFields), "") << "seed " << seed << ": " << Shown(next);
    if (altered && first.ok() && !next.page_token().empty() && next.page_token() != token) {
      ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
          << "seed " << seed << ": an altered token was taken: " << Shown(next);
      ++tally_.altered_refused;
    }
  }
  // GetBookingHistory's page token, real or not, altered or not.
  history::v1::GetBookingHistoryRequest get;
  get.set_booking_id(gen.Chance(0.7) ? "fuzz-1" : gen.Text());
  get.set_page_size(1);
  history::v1::GetBookingHistoryResponse got;
  grpc::Status g = Get(get, &got);
  Count(g);
  ASSERT_EQ(Problem(g, {"booking_id", "page_size"}), "") << "seed " << seed << ": " << Shown(get);
  const bool real = !got.next_page_token().empty();
  get.set_page_token(real ? gen.Mutate(got.next_page_token()) : gen.HandMadeToken());
  g = Get(get);
  Count(g);
  ASSERT_EQ(Problem(g, {"booking_id", "page_token"}), "") << "seed " << seed << ": " << Shown(get);
  if (real && !get.page_token().empty()) {
    ASSERT_EQ(g.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << "seed " << seed << ": an altered token was taken: " << Shown(get);
    ++tally_.altered_refused;
  }
}

TEST_F(ListHistoryFuzzTest, SeededInputsAreAnsweredOkOrInvalidArgument) {
  uint64_t first = 0, count = 4000;
  if (const char* one = std::getenv("LIST_HISTORY_FUZZ_SEED"); one != nullptr) {
    ASSERT_TRUE(absl::SimpleAtoi(one, &first)) << one;
    count = 1;
  } else if (const char* range = std::getenv("LIST_HISTORY_FUZZ_SEEDS"); range != nullptr) {
    const std::string r = range;
    const size_t colon = r.find(':');
    ASSERT_TRUE(colon != std::string::npos && absl::SimpleAtoi(r.substr(0, colon), &first) &&
                absl::SimpleAtoi(r.substr(colon + 1), &count))
        << "LIST_HISTORY_FUZZ_SEEDS=first:count, not " << r;
  }
  for (uint64_t seed = first; seed < first + count; ++seed) {
    ASSERT_NO_FATAL_FAILURE(RunSeed(seed));
  }
  std::printf(
      "list-history fuzz: seeds %llu..%llu: %lld calls, %lld OK, %lld INVALID_ARGUMENT, none "
      "else; %lld first pages handed out a token; %lld altered real tokens, all refused\n",
      static_cast<unsigned long long>(first), static_cast<unsigned long long>(first + count - 1),
      static_cast<long long>(tally_.calls), static_cast<long long>(tally_.ok),
      static_cast<long long>(tally_.invalid), static_cast<long long>(tally_.pages_with_token),
      static_cast<long long>(tally_.altered_refused));
}

std::vector<std::string> Bookings(const std::vector<history::v1::HistoryEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.booking_id());
  return out;
}

// The first and last microsecond a time may name (common/input_check.h):
// stored (FuzzStory's fuzz-0 and fuzz-1), selected by filters naming them
// exactly, paged through one at a time in both orders (tokens holding
// them); a microsecond beyond either is refused before any query.
TEST_F(ListHistoryFuzzTest, TimesAtTheEdgesOfTheRangeAreAnsweredAndBeyondRefused) {
  for (const char* order : {"create_time", "create_time desc"}) {
    const std::vector<history::v1::HistoryEntry> all = ListAll("", order);
    ASSERT_EQ(all.size(), FuzzStory().size()) << order;
    std::set<std::string> ids;
    for (const auto& e : all) ids.insert(e.id());
    EXPECT_EQ(ids.size(), all.size()) << order;
    const bool asc = std::string(order) == "create_time";
    EXPECT_EQ(all.front().booking_id(), asc ? "fuzz-0" : "fuzz-1") << order;
    EXPECT_EQ(all.back().booking_id(), asc ? "fuzz-1" : "fuzz-0") << order;
  }
  using Names = std::vector<std::string>;
  EXPECT_EQ(Bookings(ListAll(R"(create_time >= "0001-01-01T00:00:00Z" AND )"
                             R"(create_time <= "0001-01-01T00:00:00Z")",
                             "")),
            (Names{"fuzz-0", "fuzz-0"}));
  const std::vector<history::v1::HistoryEntry> last =
      ListAll(R"(create_time >= "9999-12-31T23:59:59.999Z")", "");
  EXPECT_EQ(Bookings(last), (Names{"fuzz-1", "fuzz-1"}));
  if (!last.empty()) {
    EXPECT_EQ(last[0].create_time().seconds(), 253402300799);
    EXPECT_EQ(last[0].create_time().nanos(), 999000000);
  }
  EXPECT_TRUE(ListAll(R"(create_time > "9999-12-31T23:59:59.999Z" AND )"
                      R"(create_time <= "9999-12-31T23:59:59.999999Z")",
                      "")
                  .empty());
  EXPECT_EQ(Bookings(ListAll(R"(create_time < "1970-01-01T00:00:00Z")", "create_time")),
            (Names{"fuzz-0", "fuzz-0", "fuzz-2", "fuzz-2"}));
  for (const char* beyond : {R"(create_time >= "0000-12-31T23:59:59.999999Z")",
                             R"(create_time < "10000-01-01T00:00:00Z")",
                             R"(create_time > "9999-12-31T23:59:59.999999-00:01")"}) {
    ListHistoryRequest request;
    request.set_filter(beyond);
    ListHistoryResponse page;
    const grpc::Status s = List(request, &page);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << beyond;
    EXPECT_EQ(Problem(s, {"filter"}), "") << beyond;
  }
}

// The issue's inputs: each reached PostgreSQL and came back INTERNAL
// (SQLSTATE 22008/22007/22009). Now INVALID_ARGUMENT naming the field.
TEST_F(ListHistoryFuzzTest, TheIssuesInputsAreInvalidArgument) {
  struct Case {
    std::string filter, order_by, token, field;
  };
  std::vector<Case> cases = {
      {R"(create_time >= "0000-01-01T00:00:00Z")", "", "", "filter"},
      {R"(create_time < "0000-12-31T23:59:59.999999Z")", "create_time", "", "filter"},
      {R"(create_time >= "-0001-01-01T00:00:00Z")", "", "", "filter"},
      {R"(to_status = "A" AND create_time > "-0001-06-30T12:00:00+05:00")", "", "", "filter"},
      {R"(create_time <= "10000-01-01T00:00:00Z")", "", "", "filter"},
  };
  const std::string id = EventId(1);
  for (int64_t micros : {INT64_MIN, INT64_MAX, kMinTimeMicros - 1, kMaxTimeMicros + 1,
                         int64_t{-210866803200} * 1000000 - 1, int64_t{9223372036854775000}}) {
    // As the service made them before (unsigned, version 1), for the empty
    // filter newest first ...
    const std::string binding = Sha256Hex("d").substr(0, 16);
    cases.push_back({"", "",
                     absl::WebSafeBase64Escape(absl::StrCat("l1|", binding, "|", micros, "|", id)),
                     "page_token"});
    // ... and signed with the server's key: the time is still checked.
    ListHistoryRequest empty;
    absl::StatusOr<ListPlan> plan = PlanListHistory(empty);
    ASSERT_TRUE(plan.ok());
    cases.push_back({"", "", ListHistoryPageToken(*plan, ListCursor{micros, id}), "page_token"});
  }
  for (const Case& c : cases) {
    ListHistoryRequest r;
    r.set_filter(c.filter);
    r.set_order_by(c.order_by);
    r.set_page_token(c.token);
    ListHistoryResponse out;
    const grpc::Status s = List(r, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Shown(r) << s.error_message();
    EXPECT_EQ(Problem(s, {c.field}), "") << Shown(r);
  }
  // GetBookingHistory's tokens as they were (a bare sequence).
  for (const char* token : {"1", "9223372036854775807", "0"}) {
    history::v1::GetBookingHistoryRequest get;
    get.set_booking_id("fuzz-1");
    get.set_page_token(token);
    EXPECT_EQ(Problem(Get(get), {"page_token"}), "") << token;
    EXPECT_EQ(Get(get).error_code(), grpc::StatusCode::INVALID_ARGUMENT) << token;
  }
}

// WatchHistory's resume tokens: a real one resumes with the booking_id it
// was made for; altered, or with another booking_id, it is refused before
// the watch starts.
TEST_F(ListHistoryFuzzTest, WatchResumeTokensAlteredOrReboundAreRefused) {
  ListFuzzGen gen(19);
  int refused = 0;
  for (int i = 0; i < 60; ++i) {
    history::v1::WatchHistoryRequest start;
    start.set_from_start(true);
    if (i % 2 == 1) start.set_booking_id(absl::StrCat("fuzz-", i % 20));
    std::string token;  // the bookmark's, or an entry's
    {
      WatchClient w(set_->history_target(), start);
      for (int k = 0; k <= i % 3; ++k) {
        std::optional<history::v1::WatchHistoryResponse> r = w.Next();
        ASSERT_TRUE(r.has_value()) << start.ShortDebugString();
        token = r->resume_token();
      }
    }
    history::v1::WatchHistoryRequest resume = start;
    resume.set_from_start(false);
    resume.set_resume_token(token);
    {
      WatchClient same(set_->history_target(), resume);
      ASSERT_TRUE(same.Next().has_value()) << same.Finish().error_message();
    }
    for (int k = 0; k < 3; ++k) {
      history::v1::WatchHistoryRequest bad = resume;
      if (k == 0) {
        bad.set_booking_id(start.booking_id().empty() ? "fuzz-3" : "");
      } else {
        bad.set_resume_token(gen.Mutate(token));
      }
      if (bad.resume_token().empty()) continue;
      WatchClient w(set_->history_target(), bad);
      EXPECT_FALSE(w.Next().has_value()) << Shown(bad);
      const grpc::Status s = w.Finish();
      EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Shown(bad);
      EXPECT_EQ(Problem(s, {"resume_token"}), "") << Shown(bad);
      ++refused;
    }
  }
  std::printf("watch resume tokens: %d altered or rebound, all refused\n", refused);
}

}  // namespace
}  // namespace booking::testing
