// Typed identities over real mTLS (issue 19): both services run with the
// policy scripts/run.sh runs with (scripts/lib/local-authz-policy, the one
// README shows) and the relay's certificate as run.sh makes it. Every
// certificate the test CA can make that looks like the relay's (a CN, a
// DNS SAN holding its SPIFFE ID, two URI SANs, a wildcard, upper case, a
// trailing dot or slash, percent-encoding, another scheme...) tries to
// Ingest a forged event: none gets a principal it should not have, none
// stores a row; the relay's change is stored. Then: history-service does
// not start over TLS without a policy, and a policy naming an unknown
// method or group is refused at start (exit 2) and on reload (the last
// good one stays).
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "booking/v1/booking.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/support/grpc_client.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/secure_stack_suite.h"
#include "tests/support/security_stack.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"

namespace booking::testing {
namespace {

constexpr char kRelaySans[] =
    "DNS:localhost,IP:127.0.0.1,URI:spiffe://booking.local/booking-service";
constexpr char kRelay[] = "spiffe://booking.local/booking-service";
constexpr char kDispatcherToken[] = "token-demo-dispatcher-0001";

std::string ReadSource(const std::string& relative) {
  return ReadWholeFile(absl::StrCat(SOURCE_DIR, "/", relative));
}

// A certificate of the test CA and what it must make of its caller.
struct Confusable {
  const char* name;
  const char* sans;       // "" for none
  const char* principal;  // the principal it gets, as a policy names it; "" for none
  const char* reason;     // the ErrorInfo reason of Ingest's refusal
};

constexpr char kInvalid[] = "INVALID_CERTIFICATE_IDENTITY";
constexpr char kMissing[] = "MISSING_CREDENTIALS";
constexpr char kDenied[] = "METHOD_NOT_ALLOWED";

const std::vector<Confusable>& Confusables() {
  static const auto* const kAll = new std::vector<Confusable>{
      {"cn-only", "", "", kMissing},  // CN = the relay's SPIFFE ID
      {"dns-spoofs-uri", "DNS:spiffe://booking.local/booking-service", "", kInvalid},
      {"uri-in-dns-beside-own-uri",
       "URI:spiffe://booking.local/intruder,DNS:spiffe://booking.local/booking-service", "",
       kInvalid},
      {"two-uris", "URI:spiffe://booking.local/booking-service,URI:spiffe://booking.local/intruder",
       "", kInvalid},
      {"wildcard-dns", "DNS:*.booking.local", "", kInvalid},
      {"upper-trust-domain", "URI:spiffe://BOOKING.LOCAL/booking-service", "", kInvalid},
      {"upper-scheme", "URI:SPIFFE://booking.local/booking-service", "", kInvalid},
      {"upper-path", "URI:spiffe://booking.local/Booking-Service",
       "spiffe://booking.local/Booking-Service", kDenied},
      {"upper-dns", "DNS:BOOKING-SERVICE", "dns:booking-service", kDenied},
      {"trailing-dot-dns", "DNS:booking-service.", "", kInvalid},
      {"trailing-dot-trust-domain", "URI:spiffe://booking.local./booking-service", "", kInvalid},
      {"trailing-slash", "URI:spiffe://booking.local/booking-service/", "", kInvalid},
      {"percent-encoded", "URI:spiffe://booking.local/booking%2Dservice", "", kInvalid},
      {"not-spiffe", "URI:https://booking.local/booking-service", "", kInvalid},
      {"port", "URI:spiffe://booking.local:443/booking-service", "", kInvalid},
      {"dot-segment", "URI:spiffe://booking.local/x/../booking-service", "", kInvalid},
      {"dns-only", "DNS:booking-service,DNS:localhost", "dns:booking-service", kDenied},
      {"ip-and-email-only", "IP:127.0.0.1,email:booking-service@booking.local", "", kMissing},
      {"demo-client", "DNS:localhost,IP:127.0.0.1,URI:spiffe://booking.local/demo-client",
       "spiffe://booking.local/demo-client", kDenied},
  };
  return *kAll;
}

class IdentityTest : public SecureStackSuite {
 protected:
  static void SetUpTestSuite() {
    SecureStack::Options options;
    options.policy = ReadSource("scripts/lib/local-authz-policy");
    options.relay_sans = kRelaySans;
    options.tokens = absl::StrCat("demo-dispatcher ", kDispatcherToken, "\n");
    StartSecureStack("ident", options);
    if (stack_ == nullptr) return;
    for (const Confusable& c : Confusables()) {
      ASSERT_TRUE(stack_->pki().IssueWith(c.name, c.sans, kRelay).ok()) << c.name;
    }
  }

  static std::string CountSql(const std::string& id) {
    return absl::StrCat("SELECT count(*) FROM \"BookingStatusHistory\" WHERE \"bookingId\" = '", id,
                        "'");
  }
  // A booking the dispatcher creates (its first history row stored).
  static void CreateBooking(const std::string& id) {
    auto stub = v1::BookingService::NewStub(
        stack_->Channel(stack_->set().booking_target(), Dispatcher("demo-client")));
    v1::CreateBookingRequest request;
    request.set_booking_id(id);
    request.set_customer_id("customer-1");
    request.set_payment_settled(true);
    v1::Booking out;
    grpc::Status s = stub->CreateBooking(Context(Dispatcher("demo-client")).get(), request, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_TRUE(WaitForCount(stack_->set().history_url(), CountSql(id), 1, absl::Seconds(20)))
        << stack_->set().Logs();
  }
  static Caller Dispatcher(const std::string& cert) { return {cert, kDispatcherToken}; }
  static std::unique_ptr<grpc::ClientContext> Context(const Caller& c) {
    return SecureStack::Context(c);
  }
};

TEST_F(IdentityTest, NoConfusableCertificateStoresAnEvent) {
  const std::string id = "bk-confusable";
  CreateBooking(id);
  for (const Confusable& c : Confusables()) {
    SCOPED_TRACE(c.name);
    const grpc::Status s = stack_->ForgeNextEvent(Caller::Cert(c.name), id, 2, "CONFIRMED",
                                                  "CANCELLED", absl::StrCat("forged-", c.name));
    google::rpc::ErrorInfo info;
    ASSERT_TRUE(FindDetail(s, &info)) << s.error_code() << " " << s.error_message();
    EXPECT_EQ(info.reason(), c.reason) << s.error_message();
    EXPECT_EQ(info.domain(), "auth.booking");
    if (std::string(c.reason) == kDenied) {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
      EXPECT_EQ(info.metadata().at("principal"), c.principal);
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
      EXPECT_EQ(info.metadata().count("principal"), 0u);
    }
    if (std::string(c.reason) == kInvalid) {
      EXPECT_EQ(info.metadata().count("problem"), 1u);
    }
  }
  // The store, not only the codes: nothing forged, nothing else.
  EXPECT_EQ(QueryCount(stack_->set().history_url(), CountSql(id)), 1);
  EXPECT_EQ(QueryCount(stack_->set().history_url(),
                       "SELECT count(*) FROM \"BookingStatusHistory\" WHERE \"changedBy\" LIKE "
                       "'forged-%'"),
            0);
  // The relay's identity, from run.sh's certificate, stores the real change;
  // changedBy is the token's principal as before.
  auto stub = v1::BookingService::NewStub(
      stack_->Channel(stack_->set().booking_target(), Dispatcher("demo-client")));
  v1::ChangeStatusRequest request;
  request.set_booking_id(id);
  request.set_target_status(v1::CANCELLED);
  v1::ChangeStatusResponse out;
  grpc::Status s = stub->ChangeStatus(Context(Dispatcher("demo-client")).get(), request, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(WaitForCount(stack_->set().history_url(),
                           CountSql(id) + " AND sequence = 2 AND \"changedBy\" = 'demo-dispatcher'",
                           1, absl::Seconds(20)))
      << stack_->set().Logs();
}

// A valid token does not rescue an ambiguous certificate; it does name a
// caller whose certificate names no one.
TEST_F(IdentityTest, AmbiguousCertificatesAreRefusedEvenWithAToken) {
  const std::string id = "bk-token-over-confusable";
  CreateBooking(id);
  for (const Confusable& c : Confusables()) {
    SCOPED_TRACE(c.name);
    auto stub = v1::BookingService::NewStub(
        stack_->Channel(stack_->set().booking_target(), Dispatcher(c.name)));
    v1::GetBookingRequest request;
    request.set_booking_id(id);
    v1::Booking out;
    grpc::Status s = stub->GetBooking(Context(Dispatcher(c.name)).get(), request, &out);
    if (std::string(c.reason) == kInvalid) {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
    } else {
      EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    }
  }
}

std::vector<std::string> HistoryArgv(const SecureStack& stack, std::vector<std::string> flags) {
  std::vector<std::string> argv = {HistoryServiceBin(), "--listen",
                                   absl::StrCat("127.0.0.1:", FreePort()), "--database-url",
                                   stack.set().history_url()};
  argv.insert(argv.end(), flags.begin(), flags.end());
  return argv;
}

// Exit code and log of a history-service that is expected not to start.
std::pair<int, std::string> RunRefused(const SecureStack& stack,
                                       const std::vector<std::string>& flags,
                                       const std::string& name) {
  const std::string log = stack.set().log_dir() + "/" + name + ".log";
  auto p = Process::Spawn(HistoryArgv(stack, flags), {}, log);
  if (!p.ok()) return {-1, p.status().ToString()};
  auto rc = p->Wait(absl::Seconds(20));
  return {rc.ok() ? *rc : -1, ReadWholeFile(log)};
}

TEST_F(IdentityTest, HistoryServiceWithoutAPolicyDoesNotStart) {
  std::vector<std::string> mtls = stack_->pki().ServerFlags("history-service");
  std::vector<std::string> tls_only = {"--tls-cert", stack_->pki().cert("history-service"),
                                       "--tls-key", stack_->pki().key("history-service")};
  std::vector<std::string> plaintext_tokens = {"--insecure-plaintext", "--auth-tokens-file",
                                               stack_->tokens_file()};
  for (const auto& [name, flags] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"no-policy-mtls", mtls},
           {"no-policy-tls", tls_only},
           {"no-policy-plaintext-tokens", plaintext_tokens}}) {
    auto [rc, log] = RunRefused(*stack_, flags, name);
    EXPECT_EQ(rc, 2) << name << "\n" << log;
    EXPECT_NE(log.find("no --authz-policy (HISTORY_AUTHZ_POLICY)"), std::string::npos) << log;
    EXPECT_NE(log.find("/booking-service /history.v1.HistoryService/Ingest"), std::string::npos)
        << log;
  }
}

TEST_F(IdentityTest, PoliciesWithUnknownNamesDoNotLoadAtStart) {
  const std::string good = ReadSource("scripts/lib/local-authz-policy");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {good + "allow readers /history.v1.HistoryService/Ingset\n",
       "is no method of history.v1.HistoryService"},
      {good + "allow auditors /history.v1.HistoryService/ListHistory\n",
       "is no group of this policy (define it"},
      {good + "allow readers /history.v9.HistoryService/*\n",
       "is no method of this system's services"},
      {"group writers demo-dispatcher\nallow writers /booking.v1.BookingService/*\n",
       "token:demo-dispatcher"},
  };
  const int good_lines = static_cast<int>(std::count(good.begin(), good.end(), '\n'));
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string policy = absl::StrCat(stack_->set().log_dir(), "/bad-policy-", i);
    std::ofstream(policy) << cases[i].first;
    std::vector<std::string> flags = stack_->pki().ServerFlags("history-service");
    flags.insert(flags.end(), {"--authz-policy", policy});
    auto [rc, log] = RunRefused(*stack_, flags, absl::StrCat("bad-policy-", i));
    EXPECT_EQ(rc, 2) << log;
    EXPECT_NE(log.find(cases[i].second), std::string::npos) << log;
    const std::string line = absl::StrCat(policy, ":", i < 3 ? good_lines + 1 : 1, ":");
    EXPECT_NE(log.find(line), std::string::npos) << line << "\n" << log;
  }
}

size_t Occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// On reload, a policy that does not load leaves the last good one in force
// (logged by both services), for Ingest too.
TEST_F(IdentityTest, PoliciesWithUnknownNamesAreRefusedOnReload) {
  const std::string good = ReadSource("scripts/lib/local-authz-policy");
  const auto replace_policy = [&](const std::string& text) {
    const std::string next = stack_->policy_file() + ".next";
    std::ofstream(next) << text;
    ASSERT_EQ(std::rename(next.c_str(), stack_->policy_file().c_str()), 0);
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"allow * /history.v1.HistoryService/Ingset\n", "is no method of history.v1.HistoryService"},
      {"allow everyone /history.v1.HistoryService/Ingest\n", "is no group of this policy"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& [line, error] = cases[i];
    SCOPED_TRACE(line);
    const size_t before = Occurrences(stack_->set().Logs(), error);
    replace_policy(good + line);
    const absl::Time until = absl::Now() + absl::Seconds(30);
    while (Occurrences(stack_->set().Logs(), error) < before + 2 && absl::Now() < until) {
      absl::SleepFor(absl::Milliseconds(100));
    }
    const std::string logs = stack_->set().Logs();
    EXPECT_EQ(Occurrences(logs, error), before + 2) << logs;  // both services, once
    EXPECT_NE(logs.find("reload failed; the previous tokens and policy stay in force"),
              std::string::npos);
    // The last good policy: the relay still ingests, demo-client still may not.
    const std::string booking = absl::StrCat("bk-reload-", i);
    CreateBooking(booking);
    EXPECT_EQ(stack_
                  ->ForgeNextEvent(Caller::Cert("demo-client"), booking, 2, "CONFIRMED",
                                   "CANCELLED", "forged-after-reload")
                  .error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(QueryCount(stack_->set().history_url(), CountSql(booking)), 1);
  }
  replace_policy(good);
}

}  // namespace
}  // namespace booking::testing
