// ListHistory's filter subset (history-service/list_filter.h): what parses
// and to what, what is refused and how (INVALID_ARGUMENT naming `filter`,
// saying what is supported, with ErrorInfo INVALID_FILTER), and the page
// token's binding to the filter and order (history-service/list_history.h).
#include "history-service/list_filter.h"

#include "absl/strings/match.h"
#include "common/rpc_error.h"
#include "gtest/gtest.h"
#include "history-service/list_history.h"

namespace booking {
namespace {

constexpr int64_t kNov1 = 1793491200LL * 1000000;  // 2026-11-01T00:00:00Z

TEST(ListFilterTest, EmptySelectsEverything) {
  for (const char* text : {"", "   "}) {
    absl::StatusOr<ListFilter> f = ParseListFilter(text);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_EQ(f->Canonical(), "");
  }
}

TEST(ListFilterTest, EachFieldAlone) {
  absl::StatusOr<ListFilter> f = ParseListFilter(R"(changed_by = "ops@x")");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->changed_by, "ops@x");
  f = ParseListFilter("to_status=CANCELLED");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->to_status, "CANCELLED");
  f = ParseListFilter(R"(from_status = "")");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->from_status, "");
  f = ParseListFilter(R"(create_time >= "2026-11-01T00:00:00Z")");
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_TRUE(f->after.has_value());
  EXPECT_EQ(f->after->micros, kNov1);
  EXPECT_TRUE(f->after->inclusive);
  EXPECT_FALSE(f->before.has_value());
}

TEST(ListFilterTest, CombinedWithAnd) {
  absl::StatusOr<ListFilter> f = ParseListFilter(
      R"(changed_by = "ops@x" AND to_status = "CANCELLED" AND from_status = "CONFIRMED" AND )"
      R"(create_time > "2026-11-01T01:00:00+01:00" AND create_time < "2026-11-02T00:00:00.5Z")");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->changed_by, "ops@x");
  EXPECT_EQ(f->to_status, "CANCELLED");
  EXPECT_EQ(f->from_status, "CONFIRMED");
  EXPECT_EQ(f->after->micros, kNov1);  // the offset applied
  EXPECT_FALSE(f->after->inclusive);
  EXPECT_EQ(f->before->micros, kNov1 + 86400LL * 1000000 + 500000);
  EXPECT_FALSE(f->before->inclusive);
}

TEST(ListFilterTest, QuotedStringsUnescape) {
  absl::StatusOr<ListFilter> f = ParseListFilter(R"(changed_by = "a \"b\" \\ c")");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->changed_by, R"(a "b" \ c)");
}

TEST(ListFilterTest, CanonicalIgnoresSpellingNotMeaning) {
  auto canonical = [](const char* text) {
    absl::StatusOr<ListFilter> f = ParseListFilter(text);
    EXPECT_TRUE(f.ok()) << text << ": " << f.status();
    return f.ok() ? f->Canonical() : "";
  };
  EXPECT_EQ(canonical(R"(to_status = "X" AND changed_by = "a")"),
            canonical(R"(changed_by="a"   AND to_status=X)"));
  EXPECT_NE(canonical(R"(to_status = "X")"), canonical(R"(from_status = "X")"));
  EXPECT_NE(canonical(R"(create_time > "2026-11-01T00:00:00Z")"),
            canonical(R"(create_time >= "2026-11-01T00:00:00Z")"));
}

TEST(ListFilterTest, RefusesWhatIsNotSupported) {
  for (const char* text : {
           R"(to_status = "A" OR to_status = "B")",
           R"(NOT to_status = "A")",
           R"((to_status = "A"))",
           R"(to_status != "A")",
           R"(to_status : "A")",
           R"(changed_by > "a")",
           R"(create_time = "2026-11-01T00:00:00Z")",
           R"(create_time >= "yesterday")",
           R"(create_time >= "2026-11-01")",
           R"(booking_id = "b1")",
           R"(to_status = "A" AND)",
           R"(to_status = "A" to_status = "B")",
           R"(to_status = "A" AND to_status = "B")",
           R"(create_time > "2026-11-01T00:00:00Z" AND create_time >= "2026-11-02T00:00:00Z")",
           R"(to_status =)",
           R"(to_status = "unclosed)",
           R"(to_status = "A" and changed_by = "b")",
       }) {
    absl::StatusOr<ListFilter> f = ParseListFilter(text);
    ASSERT_FALSE(f.ok()) << text;
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument) << text;
    const google::rpc::Status details = DetailsOf(f.status());
    bool field = false, info = false;
    for (const auto& any : details.details()) {
      google::rpc::BadRequest bad;
      google::rpc::ErrorInfo error_info;
      if (any.UnpackTo(&bad)) {
        ASSERT_EQ(bad.field_violations_size(), 1) << text;
        EXPECT_EQ(bad.field_violations(0).field(), "filter") << text;
        EXPECT_TRUE(absl::StrContains(bad.field_violations(0).description(), "supported: "))
            << text;
        field = true;
      } else if (any.UnpackTo(&error_info)) {
        EXPECT_EQ(error_info.reason(), "INVALID_FILTER");
        EXPECT_EQ(error_info.domain(), "history.v1");
        info = true;
      }
    }
    EXPECT_TRUE(field && info) << text;
  }
}

history::v1::ListHistoryRequest Request(const std::string& filter, const std::string& order_by) {
  history::v1::ListHistoryRequest r;
  r.set_filter(filter);
  r.set_order_by(order_by);
  return r;
}

TEST(ListPlanTest, OrderByAndPageSize) {
  EXPECT_EQ(PlanListHistory(Request("", ""))->order, ListOrder::kNewestFirst);
  EXPECT_EQ(PlanListHistory(Request("", "create_time desc"))->order, ListOrder::kNewestFirst);
  EXPECT_EQ(PlanListHistory(Request("", "create_time"))->order, ListOrder::kOldestFirst);
  EXPECT_EQ(PlanListHistory(Request("", " create_time  asc "))->order, ListOrder::kOldestFirst);
  for (const char* bad : {"sequence", "create_time up", "create_time desc, id", "create_time,"}) {
    EXPECT_EQ(PlanListHistory(Request("", bad)).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  history::v1::ListHistoryRequest r;
  EXPECT_EQ(PlanListHistory(r)->page_size, 100);
  r.set_page_size(100000);
  EXPECT_EQ(PlanListHistory(r)->page_size, 1000);
  r.set_page_size(-1);
  EXPECT_EQ(PlanListHistory(r).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ListPlanTest, BadTokensAreInvalidArgument) {
  for (const char* token : {"x", "not base64!", "bDF8YWJjfDF8Mg", "AAAA"}) {
    history::v1::ListHistoryRequest r = Request("", "");
    r.set_page_token(token);
    EXPECT_EQ(PlanListHistory(r).status().code(), absl::StatusCode::kInvalidArgument) << token;
  }
}

}  // namespace
}  // namespace booking
