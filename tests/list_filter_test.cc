// ListHistory's filter subset (history-service/list_filter.h): what parses
// and to what, what is refused and how (INVALID_ARGUMENT naming `filter`,
// saying what is supported, with ErrorInfo INVALID_FILTER), and the page
// token's binding to the filter and order, its signature and the range of
// the times in it (history-service/list_history.h, page_token.h).
#include "history-service/list_filter.h"

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/input_check.h"
#include "common/rpc_error.h"
#include "gtest/gtest.h"
#include "history-service/list_history.h"
#include "history-service/page_token.h"

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

// The range of times a filter may name (common/input_check.h), at its edges
// and just outside, and the issue's inputs that reached PostgreSQL before.
TEST(ListFilterTest, TimesOutsideTheRangeAreRefusedAtTheEdge) {
  const auto bound = [](const std::string& time) {
    return ParseListFilter(absl::StrCat("create_time >= \"", time, "\""));
  };
  absl::StatusOr<ListFilter> f = bound("0001-01-01T00:00:00Z");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->after->micros, kMinTimeMicros);
  f = bound("9999-12-31T23:59:59.999999Z");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->after->micros, kMaxTimeMicros);
  f = bound("9999-12-31T23:59:59.9999999Z");  // beyond microseconds: truncated, still inside
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->after->micros, kMaxTimeMicros);
  f = bound("0001-01-01T00:59:59+01:00");  // inside written in a zone ahead of UTC: before year 1
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  for (const char* out :
       {"0000-01-01T00:00:00Z", "0000-12-31T23:59:59.999999Z", "-0001-01-01T00:00:00Z",
        "10000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999-00:01", "292277026596-12-04T15:30:08Z",
        "-292277022657-01-27T08:29:52Z", "99999999999999999999-01-01T00:00:00Z"}) {
    f = bound(out);
    ASSERT_FALSE(f.ok()) << out;
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument) << out;
    const google::rpc::Status details = DetailsOf(f.status());
    std::string field;
    for (const auto& any : details.details()) {
      google::rpc::BadRequest bad;
      if (any.UnpackTo(&bad) && bad.field_violations_size() > 0) {
        field = bad.field_violations(0).field();
      }
    }
    EXPECT_EQ(field, "filter") << out;
    EXPECT_TRUE(absl::StrContains(f.status().message(), "0001-01-01T00:00:00Z")) << out;
  }
}

TEST(ListFilterTest, PgTimestampTextIsFourDigitYearsAtBothEdges) {
  EXPECT_EQ(PgTimestampText(kMinTimeMicros), "0001-01-01 00:00:00.000000");
  EXPECT_EQ(PgTimestampText(kMaxTimeMicros), "9999-12-31 23:59:59.999999");
  EXPECT_EQ(PgTimestampText(-1), "1969-12-31 23:59:59.999999");
  EXPECT_EQ(PgTimestampText(kNov1 + 5), "2026-11-01 00:00:00.000005");
  EXPECT_TRUE(CheckTimeMicros("t", kMinTimeMicros).ok());
  EXPECT_TRUE(CheckTimeMicros("t", kMaxTimeMicros).ok());
  EXPECT_FALSE(CheckTimeMicros("t", kMinTimeMicros - 1).ok());
  EXPECT_FALSE(CheckTimeMicros("t", kMaxTimeMicros + 1).ok());
}

// A caller's bytes are shown escaped in messages: the google.rpc details
// stay valid UTF-8 whatever was sent.
TEST(ListFilterTest, MessagesEscapeWhatTheCallerSent) {
  for (const std::string& text :
       {std::string("to_status = \"a\" \xff"), std::string("create_time > \"\xc3\x28\""),
        std::string("to_status = \"a\" \"\xe2\x82\" = x")}) {
    absl::StatusOr<ListFilter> f = ParseListFilter(text);
    ASSERT_FALSE(f.ok()) << text;
    EXPECT_TRUE(IsValidUtf8(f.status().message())) << f.status().message();
    const google::rpc::Status details = DetailsOf(f.status());
    google::rpc::Status parsed;
    EXPECT_TRUE(parsed.ParseFromString(details.SerializeAsString()));
  }
}

// Page tokens: only ones this process signed, for the same filter and
// order, with times inside the range, are taken.
TEST(ListPlanTest, TokensAreSignedBoundAndRangeChecked) {
  history::v1::ListHistoryRequest r = Request(R"(to_status = "A")", "create_time");
  absl::StatusOr<ListPlan> plan = PlanListHistory(r);
  ASSERT_TRUE(plan.ok());
  const std::string id = "0b4a3b0e-6f1e-4c2a-9d1e-1f2a3b4c5d6e";
  const std::string token = ListHistoryPageToken(*plan, ListCursor{kNov1, id});
  r.set_page_token(token);
  absl::StatusOr<ListPlan> next = PlanListHistory(r);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->after->micros, kNov1);
  EXPECT_EQ(next->after->id, id);
  r.set_page_size(7);  // AIP-158: page_size may change between pages
  EXPECT_TRUE(PlanListHistory(r).ok());

  std::vector<std::string> bad = {token.substr(0, token.size() - 1), token + "A", token + "=",
                                  token.substr(1)};
  for (size_t i = 0; i < token.size(); i += 7) {
    std::string flipped = token;
    flipped[i] = flipped[i] == 'A' ? 'B' : 'A';
    bad.push_back(flipped);
  }
  // Signed under another key, and the same payload unsigned (version 1).
  absl::StatusOr<TokenKeys> other = TokenKeys::FromKeys({std::string(40, 'k')});
  ASSERT_TRUE(other.ok());
  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(token, &raw));
  const std::string payload = raw.substr(0, raw.size() - 32);
  bad.push_back(other->Seal("history.v1.ListHistory page_token", payload));
  bad.push_back(absl::WebSafeBase64Escape(payload));
  // Signed, but with a time outside the range (defence in depth).
  for (int64_t micros : {kMinTimeMicros - 1, kMaxTimeMicros + 1, INT64_MIN, INT64_MAX}) {
    bad.push_back(ListHistoryPageToken(*plan, ListCursor{micros, id}));
  }
  bad.push_back(ListHistoryPageToken(*plan, ListCursor{kNov1, "not-a-uuid"}));
  for (const std::string& t : bad) {
    r.set_page_token(t);
    absl::StatusOr<ListPlan> p = PlanListHistory(r);
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << t;
  }
  // A real token with another filter or order.
  r.set_page_token(token);
  r.set_filter(R"(to_status = "B")");
  EXPECT_EQ(PlanListHistory(r).status().code(), absl::StatusCode::kInvalidArgument);
  r.set_filter(R"(to_status = "A")");
  r.set_order_by("create_time desc");
  EXPECT_EQ(PlanListHistory(r).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TokenKeysTest, RotationAndShortKeys) {
  absl::StatusOr<TokenKeys> old_key = TokenKeys::FromKeys({std::string(32, 'o')});
  absl::StatusOr<TokenKeys> both =
      TokenKeys::FromKeys({std::string(32, 'n'), std::string(32, 'o')});
  ASSERT_TRUE(old_key.ok() && both.ok());
  const std::string sealed = old_key->Seal("p", "payload");
  EXPECT_EQ(both->Open("p", sealed), "payload");     // the old key still verifies
  EXPECT_EQ(both->Open("q", sealed), std::nullopt);  // another purpose
  EXPECT_EQ(old_key->Open("p", both->Seal("p", "payload")), std::nullopt);  // the new one signs
  EXPECT_FALSE(TokenKeys::FromKeys({std::string(31, 'x')}).ok());
  EXPECT_FALSE(TokenKeys::FromKeys({}).ok());
}

// --page-token-key's file: '#' lines and blank lines skipped, the first key
// signs; a missing file, one with no key or a short key is refused, naming
// the file.
TEST(TokenKeysTest, FromFile) {
  const std::string dir = ::testing::TempDir();
  const auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + name) << text;
    return dir + name;
  };
  const std::string a(40, 'a'), b(32, 'b');
  absl::StatusOr<TokenKeys> keys =
      TokenKeys::FromFile(write("keys", absl::StrCat("# rotation\n\n", a, "\n  ", b, "  \n")));
  ASSERT_TRUE(keys.ok()) << keys.status();
  absl::StatusOr<TokenKeys> first = TokenKeys::FromKeys({a});
  absl::StatusOr<TokenKeys> second = TokenKeys::FromKeys({b});
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->Open("p", keys->Seal("p", "x")), "x");   // the first line signs
  EXPECT_EQ(keys->Open("p", second->Seal("p", "y")), "y");  // the second verifies
  for (const std::string& bad : {dir + "no-such-file", write("empty", "# none\n\n"),
                                 write("short", absl::StrCat(a, "\nshort\n"))}) {
    absl::StatusOr<TokenKeys> refused = TokenKeys::FromFile(bad);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(absl::StrContains(refused.status().message(), bad)) << refused.status();
  }
}

}  // namespace
}  // namespace booking
