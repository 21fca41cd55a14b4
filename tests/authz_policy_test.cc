// The policy format and the tokens file: what is allowed, what is refused at
// load, with the line named.
#include "common/authz_policy.h"

#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/identity.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

constexpr char kPolicy[] = R"(
# comment
group readers token:alice spiffe://x/auditor dns:reports.example
allow spiffe://x/booking-service /history.v1.HistoryService/Ingest
allow readers /history.v1.HistoryService/GetBookingHistory   # trailing comment
allow writers /booking.v1.BookingService/*
group writers token:bob
allow * /booking.v1.BookingService/GetBooking
allow dns:Relay.Example /history.v1.HistoryService/ListHistory
)";

Principal Spiffe(absl::string_view id) { return *Principal::SpiffeId(id); }
Principal Dns(absl::string_view name) { return *Principal::DnsName(name); }
Principal Token(absl::string_view name) { return *Principal::Token(name); }

constexpr char kIngest[] = "/history.v1.HistoryService/Ingest";
constexpr char kRead[] = "/history.v1.HistoryService/GetBookingHistory";

TEST(AuthzPolicyTest, AllowsExactlyWhatItSays) {
  absl::StatusOr<AuthzPolicy> p = AuthzPolicy::Parse(kPolicy, "policy");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->Allows(Spiffe("spiffe://x/booking-service"), kIngest));
  EXPECT_FALSE(p->Allows(Token("alice"), kIngest));
  EXPECT_TRUE(p->Allows(Token("alice"), kRead));
  EXPECT_TRUE(p->Allows(Spiffe("spiffe://x/auditor"), kRead));
  EXPECT_TRUE(p->Allows(Dns("reports.example"), kRead));
  EXPECT_FALSE(p->Allows(Token("bob"), kRead));
  EXPECT_TRUE(p->Allows(Token("bob"), "/booking.v1.BookingService/ChangeStatus"));  // group after
  EXPECT_FALSE(p->Allows(Token("alice"), "/booking.v1.BookingService/ChangeStatus"));
  EXPECT_TRUE(p->Allows(Token("anyone"), "/booking.v1.BookingService/GetBooking"));  // "*"
  EXPECT_TRUE(p->Allows(Dns("relay.example"), "/history.v1.HistoryService/ListHistory"));
  // A service wildcard is not a prefix match on other services.
  EXPECT_FALSE(p->Allows(Token("bob"), "/booking.v1.BookingServiceX/ChangeStatus"));
  // A group's name is not a principal of the group, of any kind.
  EXPECT_FALSE(p->Allows(Token("readers"), kRead));
  EXPECT_FALSE(p->Allows(Dns("readers"), kRead));
}

// One name, another kind: never the same principal.
TEST(AuthzPolicyTest, ALineOfOneKindNeverMatchesAnother) {
  absl::StatusOr<AuthzPolicy> p = AuthzPolicy::Parse(kPolicy, "policy");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->Allows(Dns("reports.example"), kIngest));
  EXPECT_FALSE(p->Allows(Token("reports.example"), kRead));  // dns: line, token caller
  EXPECT_FALSE(p->Allows(Dns("alice"), kRead));              // token: line, DNS caller
  EXPECT_FALSE(p->Allows(Token("relay.example"), "/history.v1.HistoryService/ListHistory"));
  // A SPIFFE ID can be neither a DNS name nor a token principal.
  EXPECT_FALSE(Principal::DnsName("spiffe://x/booking-service").ok());
  EXPECT_FALSE(Principal::Token("spiffe://x/booking-service").ok());
  EXPECT_FALSE(p->Allows(Spiffe("spiffe://x/booking-service/x"), kIngest));
  EXPECT_FALSE(p->Allows(Spiffe("spiffe://x/Booking-Service"), kIngest));
  EXPECT_FALSE(p->Allows(Spiffe("spiffe://x"), kIngest));
}

std::string ErrorOf(absl::string_view text) {
  absl::StatusOr<AuthzPolicy> p = AuthzPolicy::Parse(text, "policy");
  return p.ok() ? "(loaded)" : std::string(p.status().message());
}

TEST(AuthzPolicyTest, RefusesWhatItCannotRead) {
  for (const char* bad : {"allow token:a", "permit token:a /a.B/C", "allow token:a a.B/C",
                          "allow token:a /a.B/C*", "allow token:a /B/C", "allow token:a /a.B*/C",
                          "group * token:a", "# nothing allowed\ngroup g token:a"}) {
    EXPECT_NE(ErrorOf(bad).find("policy"), std::string::npos) << bad;
  }
  EXPECT_NE(ErrorOf("\n\nallow token:a /x/y").find("policy:3"), std::string::npos);
}

TEST(AuthzPolicyTest, RefusesUnknownMethodsAndGroupsNamingTheLine) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"allow token:a /history.v1.HistoryService/Ingset",
       "policy:1: \"/history.v1.HistoryService/Ingset\" is no method of "
       "history.v1.HistoryService (GetBookingHistory, VerifyHistory, GetLogCheckpoint, "
       "GetConsistencyProof, GetLogEntries, ListHistory, Ingest, WatchHistory)"},
      {"allow token:a /history.v2.HistoryService/*",
       "policy:1: \"/history.v2.HistoryService/*\" "
       "is no method of this system's services"},
      {"allow token:a /grpc.health.v1.Health/Check", "answered to everyone"},
      {"allow token:a /booking.v1.BookingService/*\nallow redears " + std::string(kRead),
       "policy:2: \"redears\" is no group of this policy"},
      {"group g token:a\nallow g " + std::string(kRead) + "\nallow h " + kIngest,
       "policy:3: \"h\" is no group"},
      {"group g spiffe://X/y\nallow g *", "policy:1: SPIFFE ID \"spiffe://X/y\""},
      {"group g dns:*.example\nallow g *", "wildcard"},
      {"group g@x token:a\nallow token:a *", "cannot name a group"},
      {"allow uri:spiffe://x/y *", "names no kind of principal"},
  };
  for (const auto& [text, want] : cases) {
    EXPECT_NE(ErrorOf(text).find(want), std::string::npos) << text << "\n" << ErrorOf(text);
  }
}

// The format before principals were typed is refused, saying how to write
// each line now; its spiffe:// lines alone were unambiguous and still load.
TEST(AuthzPolicyTest, UntypedPoliciesAreRefusedWithTheRewrite) {
  EXPECT_EQ(ErrorOf("allow spiffe://x/booking-service " + std::string(kIngest)), "(loaded)");
  const std::string member = ErrorOf("group writers demo-dispatcher\nallow writers *");
  EXPECT_NE(member.find("policy:1: \"demo-dispatcher\" names no kind of principal: write "
                        "\"token:demo-dispatcher\" for the tokens-file principal or "
                        "\"dns:demo-dispatcher\" for a certificate's DNS SAN"),
            std::string::npos)
      << member;
  const std::string email = ErrorOf("group readers alice@example.com\nallow readers *");
  EXPECT_NE(email.find("write \"token:alice@example.com\" for the tokens-file principal ("),
            std::string::npos)
      << email;
  const std::string caller = ErrorOf("allow dispatcher@test /booking.v1.BookingService/*");
  EXPECT_NE(caller.find("write \"token:dispatcher@test\""), std::string::npos) << caller;
  const std::string bare = ErrorOf("allow demo-dispatcher /booking.v1.BookingService/*");
  EXPECT_NE(bare.find("\"demo-dispatcher\" is no group of this policy"), std::string::npos);
  EXPECT_NE(bare.find("\"token:demo-dispatcher\""), std::string::npos) << bare;
}

std::string ReadSource(const std::string& relative) {
  std::ifstream in(std::string(SOURCE_DIR) + "/" + relative);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The lines indented by `indent` spaces that first follow `marker`, unindented.
std::string IndentedBlockAfter(const std::string& text, const std::string& marker, size_t indent) {
  const size_t at = text.find(marker);
  if (at == std::string::npos) return "";
  std::string block;
  bool in_block = false;
  for (absl::string_view line : absl::StrSplit(absl::string_view(text).substr(at), '\n')) {
    const bool indented = absl::StartsWith(line, std::string(indent, ' '));
    if (in_block && !indented) break;
    if (!indented) continue;
    in_block = true;
    absl::StrAppend(&block, line.substr(indent), "\n");
  }
  return block;
}

// The policies README shows, scripts/run.sh runs with and deploy/ mounts:
// only the relay's SPIFFE ID may Ingest; nothing that looks like it may.
TEST(AuthzPolicyTest, ShippedPoliciesLetOnlyTheRelayIngest) {
  struct Shipped {
    std::string where, text, trust_domain;
  };
  const std::vector<Shipped> shipped = {
      {"README.md", IndentedBlockAfter(ReadSource("README.md"), "**What it may call.**", 4),
       "booking.local"},
      {"scripts/lib/local-authz-policy", ReadSource("scripts/lib/local-authz-policy"),
       "booking.local"},
      {"deploy/authz-policy.yaml",
       IndentedBlockAfter(ReadSource("deploy/authz-policy.yaml"), "  policy: |", 4),
       "booking-status"},
  };
  for (const Shipped& s : shipped) {
    SCOPED_TRACE(s.where);
    ASSERT_NE(s.text.find("allow "), std::string::npos) << "no policy found";
    absl::StatusOr<AuthzPolicy> p = AuthzPolicy::Parse(s.text, s.where);
    ASSERT_TRUE(p.ok()) << p.status();
    const std::string td = "spiffe://" + s.trust_domain;
    EXPECT_TRUE(p->Allows(Spiffe(td + "/booking-service"), kIngest));
    for (const Principal& other :
         {Dns("booking-service"), Dns("localhost"), Dns(s.trust_domain), Dns("history-service"),
          Spiffe(td + "/Booking-Service"), Spiffe(td + "/booking-service/x"), Spiffe(td),
          Spiffe(td + "/auditor"), Spiffe(td + "/demo-client"),
          Spiffe("spiffe://other/booking-service"), Token("booking-service"),
          Token("demo-dispatcher"), Token("alice@example.com"), Token("dispatcher@booking-status"),
          Token("auditor@booking-status"), Token("support@booking-status")}) {
      EXPECT_FALSE(p->Allows(other, kIngest)) << other.PolicyName();
    }
  }
}

TEST(AuthzPolicyTest, HealthAndReflectionAlwaysAllowed) {
  EXPECT_TRUE(IsAlwaysAllowed("/grpc.health.v1.Health/Check"));
  EXPECT_TRUE(IsAlwaysAllowed("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"));
  EXPECT_FALSE(IsAlwaysAllowed("/grpc.health.v1.HealthX/Check"));
  EXPECT_FALSE(IsAlwaysAllowed("/history.v1.HistoryService/Ingest"));
}

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(TokenTableTest, FindsPrincipalsAndRefusesWeakFiles) {
  absl::StatusOr<TokenTable> t = TokenTable::FromFile(
      WriteFile("tokens", "# people\nalice 0123456789abcdef\nbob  fedcba9876543210xyz\n"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->PrincipalOf("0123456789abcdef"), Token("alice"));
  EXPECT_EQ(t->PrincipalOf("fedcba9876543210xyz"), Token("bob"));
  EXPECT_EQ(t->PrincipalOf("0123456789abcde"), std::nullopt);    // a prefix
  EXPECT_EQ(t->PrincipalOf("0123456789abcdefg"), std::nullopt);  // longer
  EXPECT_EQ(t->PrincipalOf(""), std::nullopt);
  const absl::Status short_token =
      TokenTable::FromFile(WriteFile("short", "alice 0123456789abcde\n")).status();
  EXPECT_NE(std::string(short_token.message()).find("short:1"), std::string::npos);
  EXPECT_NE(std::string(short_token.message()).find("at least 16"), std::string::npos);
  EXPECT_FALSE(
      TokenTable::FromFile(WriteFile("twice", "a 0123456789abcdef\nb 0123456789abcdef\n")).ok());
  EXPECT_FALSE(TokenTable::FromFile(WriteFile("three", "a b 0123456789abcdef\n")).ok());
  EXPECT_FALSE(TokenTable::FromFile(WriteFile("empty", "# none\n")).ok());
  EXPECT_FALSE(TokenTable::FromFile(::testing::TempDir() + "missing").ok());
  // A token principal that would read as another kind.
  const absl::Status spiffe =
      TokenTable::FromFile(WriteFile("spiffe",
                                     "ok 0123456789abcdef\nspiffe://booking.local/booking-service "
                                     "fedcba9876543210\n"))
          .status();
  EXPECT_NE(std::string(spiffe.message()).find("spiffe:2: token principal"), std::string::npos)
      << spiffe;
  EXPECT_FALSE(TokenTable::FromFile(WriteFile("dns", "dns:localhost 0123456789abcdef\n")).ok());
  EXPECT_FALSE(TokenTable::FromFile(WriteFile("anon", "anonymous 0123456789abcdef\n")).ok());
}

}  // namespace
}  // namespace booking
