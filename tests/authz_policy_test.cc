// The policy format and the tokens file: what is allowed, what is refused at
// load, with the line named.
#include "common/authz_policy.h"

#include <fstream>
#include <string>

#include "common/identity.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

constexpr char kPolicy[] = R"(
# comment
group readers alice spiffe://x/auditor
allow spiffe://x/booking-service /history.v1.HistoryService/Ingest
allow readers /history.v1.HistoryService/GetBookingHistory   # trailing comment
allow writers /booking.v1.BookingService/*
group writers bob
allow * /booking.v1.BookingService/GetBooking
)";

TEST(AuthzPolicyTest, AllowsExactlyWhatItSays) {
  absl::StatusOr<AuthzPolicy> p = AuthzPolicy::Parse(kPolicy, "policy");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->Allows("spiffe://x/booking-service", "/history.v1.HistoryService/Ingest"));
  EXPECT_FALSE(p->Allows("alice", "/history.v1.HistoryService/Ingest"));
  EXPECT_TRUE(p->Allows("alice", "/history.v1.HistoryService/GetBookingHistory"));
  EXPECT_TRUE(p->Allows("spiffe://x/auditor", "/history.v1.HistoryService/GetBookingHistory"));
  EXPECT_FALSE(p->Allows("bob", "/history.v1.HistoryService/GetBookingHistory"));
  EXPECT_TRUE(p->Allows("bob", "/booking.v1.BookingService/ChangeStatus"));  // group after allow
  EXPECT_FALSE(p->Allows("alice", "/booking.v1.BookingService/ChangeStatus"));
  EXPECT_TRUE(p->Allows("anyone", "/booking.v1.BookingService/GetBooking"));  // "*"
  EXPECT_FALSE(p->Allows("", "/booking.v1.BookingService/GetBooking"));       // no identity
  // A service wildcard is not a prefix match on other services.
  EXPECT_FALSE(p->Allows("bob", "/booking.v1.BookingServiceX/ChangeStatus"));
  // The group's name is not a principal of the group.
  EXPECT_FALSE(p->Allows("readers", "/history.v1.HistoryService/Ingest"));
}

TEST(AuthzPolicyTest, RefusesWhatItCannotRead) {
  for (const char* bad : {"allow alice", "permit alice /a.B/C", "allow alice a.B/C",
                          "allow alice /a.B/C*", "allow alice /B/C", "allow alice /a.B*/C",
                          "group * alice", "# nothing allowed\ngroup g alice"}) {
    absl::StatusOr<AuthzPolicy> p = AuthzPolicy::Parse(bad, "policy");
    EXPECT_FALSE(p.ok()) << bad;
    EXPECT_NE(std::string(p.status().message()).find("policy"), std::string::npos) << bad;
  }
  EXPECT_NE(std::string(AuthzPolicy::Parse("\n\nallow a /x/y", "p").status().message()).find("p:3"),
            std::string::npos);
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
  EXPECT_EQ(t->PrincipalOf("0123456789abcdef"), "alice");
  EXPECT_EQ(t->PrincipalOf("fedcba9876543210xyz"), "bob");
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
}

}  // namespace
}  // namespace booking
