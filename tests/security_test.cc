// Transport security, identities and authorization, over real mTLS between
// real processes, with a throwaway CA made by the openssl CLI at run time:
// - services refuse to start without TLS or --insecure-plaintext (exit 2);
// - a plaintext client, or one without a client certificate, is refused;
// - every method for every identity: allowed, PERMISSION_DENIED or
//   UNAUTHENTICATED, decided before the request is even validated;
// - Ingest only for booking-service's certificate: a forged next-sequence
//   event from any other caller never reaches the table, and the real
//   change is stored when it comes.
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "booking/v1/booking.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "history/v1/history.grpc.pb.h"
#include "tests/support/grpc_client.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/secure_stack_suite.h"
#include "tests/support/security_stack.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"

namespace booking::testing {
namespace {

enum class Verdict { kAllowed, kDenied, kUnauthenticated };

const char* Name(Verdict v) {
  switch (v) {
    case Verdict::kAllowed:
      return "allowed";
    case Verdict::kDenied:
      return "PERMISSION_DENIED";
    case Verdict::kUnauthenticated:
      return "UNAUTHENTICATED";
  }
  return "?";
}

Verdict VerdictOf(const grpc::Status& s) {
  if (s.error_code() == grpc::StatusCode::UNAUTHENTICATED) return Verdict::kUnauthenticated;
  if (s.error_code() == grpc::StatusCode::PERMISSION_DENIED) return Verdict::kDenied;
  return Verdict::kAllowed;
}

class SecurityTest : public SecureStackSuite {
 protected:
  static void SetUpTestSuite() { StartSecureStack("sec"); }

  // One call of `method` as `caller`; requests are empty (invalid): an
  // allowed caller gets INVALID_ARGUMENT, a refused one its refusal.
  static grpc::Status Call(const Caller& caller, const std::string& method) {
    auto booking =
        v1::BookingService::NewStub(stack_->Channel(stack_->set().booking_target(), caller));
    auto history = history::v1::HistoryService::NewStub(
        stack_->Channel(stack_->set().history_target(), caller));
    auto context = stack_->Context(caller);
    if (method == "GetBooking") {
      v1::Booking out;
      return booking->GetBooking(context.get(), {}, &out);
    }
    if (method == "ListBookings") {
      v1::ListBookingsRequest request;
      request.set_page_size(-1);
      v1::ListBookingsResponse out;
      return booking->ListBookings(context.get(), request, &out);
    }
    if (method == "CreateBooking") {
      v1::Booking out;
      return booking->CreateBooking(context.get(), {}, &out);
    }
    if (method == "ChangeStatus") {
      v1::ChangeStatusResponse out;
      return booking->ChangeStatus(context.get(), {}, &out);
    }
    if (method == "GetBookingHistory") {
      history::v1::GetBookingHistoryResponse out;
      return history->GetBookingHistory(context.get(), {}, &out);
    }
    if (method == "VerifyHistory") {
      history::v1::VerifyHistoryResponse out;
      return history->VerifyHistory(context.get(), {}, &out);
    }
    if (method == "ListHistory") {
      history::v1::ListHistoryResponse out;
      return history->ListHistory(context.get(), {}, &out);
    }
    if (method == "WatchHistory") {  // a bad token: INVALID_ARGUMENT when allowed
      history::v1::WatchHistoryRequest request;
      request.set_resume_token("not a token");
      auto reader = history->WatchHistory(context.get(), request);
      history::v1::WatchHistoryResponse out;
      while (reader->Read(&out)) {
      }
      return reader->Finish();
    }
    if (method == "Ingest") {
      auto stream = history->Ingest(context.get());
      stream->WritesDone();
      return stream->Finish();
    }
    auto health =
        grpc::health::v1::Health::NewStub(stack_->Channel(stack_->set().history_target(), caller));
    grpc::health::v1::HealthCheckResponse out;
    return health->Check(context.get(), {}, &out);
  }
};

TEST_F(SecurityTest, EveryMethodForEveryIdentity) {
  using V = Verdict;
  constexpr V A = V::kAllowed, D = V::kDenied, U = V::kUnauthenticated;
  const std::vector<std::string> methods = {
      "GetBooking",    "ListBookings", "CreateBooking", "ChangeStatus", "GetBookingHistory",
      "VerifyHistory", "ListHistory",  "Ingest",        "Health",       "WatchHistory"};
  const std::vector<std::pair<Caller, std::vector<V>>> table = {
      {Caller::Cert("booking-service"), {D, D, D, D, D, D, D, A, A, D}},
      {Caller::Cert("auditor"), {A, A, D, D, A, A, A, D, A, A}},
      {Caller::Cert("intruder"), {D, D, D, D, D, D, D, D, A, D}},
      {Caller::Token(SecureStack::kWriterToken), {A, A, A, A, D, D, D, D, A, D}},
      {Caller::Token(SecureStack::kReaderToken), {A, A, D, D, A, A, A, D, A, A}},
      {Caller::Token("not-a-token-anyone-was-given"), {U, U, U, U, U, U, U, U, A, U}},
      {Caller::Cert("tool"), {D, D, D, D, D, D, D, D, A, D}},
  };
  for (const auto& [caller, want] : table) {
    for (size_t i = 0; i < methods.size(); ++i) {
      const grpc::Status got = Call(caller, methods[i]);
      EXPECT_EQ(Name(VerdictOf(got)), std::string(Name(want[i])))
          << caller.Describe() << " calling " << methods[i] << ": " << got.error_code() << " "
          << got.error_message();
      if (VerdictOf(got) == V::kDenied) {
        google::rpc::ErrorInfo info;
        ASSERT_TRUE(FindDetail(got, &info)) << methods[i];
        EXPECT_EQ(info.reason(), "METHOD_NOT_ALLOWED");
        EXPECT_EQ(info.domain(), "auth.booking");
        EXPECT_NE(info.metadata().at("method").find(methods[i] == "Health" ? "" : methods[i]),
                  std::string::npos);
      }
    }
  }
}

// Without a policy entry there is no identity: a TLS-only server (no client
// certificates) with a policy answers UNAUTHENTICATED before validation.
TEST_F(SecurityTest, NoIdentityIsUnauthenticatedBeforeValidation) {
  auto server = stack_->StartTlsOnlyHistory();
  ASSERT_TRUE(server.ok()) << server.status() << stack_->set().Logs();
  const std::string target = server->target;
  auto stub =
      history::v1::HistoryService::NewStub(grpc::CreateChannel(target, stack_->pki().Client("")));
  grpc::ClientContext read;
  history::v1::GetBookingHistoryResponse out;
  grpc::Status s = stub->GetBookingHistory(&read, {}, &out);  // booking_id missing
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  grpc::ClientContext ingest;
  auto stream = stub->Ingest(&ingest);
  stream->WritesDone();
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

// Bytes that do not parse as the request: the refused caller hears only its
// refusal, the allowed one that the request is malformed.
TEST_F(SecurityTest, UnparseableRequestsRevealNothingToRefusedCallers) {
  const auto raw_call = [](const Caller& caller) {
    grpc::GenericStub stub(stack_->Channel(stack_->set().history_target(), caller));
    grpc::Slice slice(std::string("\xff\xff\xff\xff\x0f garbage"));
    grpc::ByteBuffer request(&slice, 1), response;
    grpc::Status status;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    auto context = SecureStack::Context(caller);
    stub.UnaryCall(context.get(), "/history.v1.HistoryService/GetBookingHistory",
                   grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
                     std::lock_guard<std::mutex> lock(mu);
                     status = std::move(s);
                     done = true;
                     cv.notify_all();
                   });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
    return status;
  };
  EXPECT_EQ(raw_call(Caller::Cert("auditor")).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(raw_call(Caller::Cert("intruder")).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(raw_call(Caller::Token("not-a-token-anyone-was-given")).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(SecurityTest, PlaintextAndCertificatelessClientsAreRefused) {
  for (const std::string& target :
       {stack_->set().booking_target(), stack_->set().history_target()}) {
    auto plain = grpc::health::v1::Health::NewStub(
        grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
    grpc::ClientContext c1;
    c1.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
    grpc::health::v1::HealthCheckResponse out;
    EXPECT_EQ(plain->Check(&c1, {}, &out).error_code(), grpc::StatusCode::UNAVAILABLE) << target;
    // mTLS: a TLS client without a certificate fails the handshake.
    auto no_cert =
        history::v1::HistoryService::NewStub(grpc::CreateChannel(target, stack_->pki().Client("")));
    grpc::ClientContext c2;
    c2.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
    auto stream = no_cert->Ingest(&c2);
    stream->WritesDone();
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAVAILABLE) << target;
  }
}

TEST_F(SecurityTest, ForgedIngestNeverReachesTheTable) {
  const std::string id = "bk-forged-1";
  ASSERT_TRUE(stack_->CreateBooking(id).ok());
  const std::string count_sql = absl::StrCat(
      "SELECT count(*) FROM \"BookingStatusHistory\" WHERE \"bookingId\" = '", id, "'");
  ASSERT_TRUE(WaitForCount(stack_->set().history_url(), count_sql, 1, absl::Seconds(20)))
      << stack_->set().Logs();
  for (const Caller& caller :
       {Caller::Cert("auditor"), Caller::Cert("intruder"), Caller::Cert("tool"),
        Caller::Token(SecureStack::kWriterToken), Caller::Token(SecureStack::kReaderToken)}) {
    grpc::Status s = stack_->ForgeNextEvent(caller, id, 2, "CONFIRMED", "CANCELLED", "ceo");
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << caller.Describe();
  }
  EXPECT_EQ(QueryCount(stack_->set().history_url(), count_sql), 1);
  EXPECT_EQ(QueryCount(stack_->set().history_url(),
                       absl::StrCat(count_sql, " AND \"changedBy\" = 'ceo'")),
            0);
  // The real change, through booking-service and its relay, is stored.
  ASSERT_TRUE(stack_->CancelBooking(id).ok());
  ASSERT_TRUE(WaitForCount(stack_->set().history_url(),
                           absl::StrCat(count_sql, " AND sequence = 2 AND \"changedBy\" = '",
                                        SecureStack::kWriterPrincipal, "'"),
                           1, absl::Seconds(20)))
      << stack_->set().Logs();
}

TEST_F(SecurityTest, RefusesToStartWithoutTlsOrPlaintext) {
  const std::string log = stack_->set().log_dir() + "/refused.log";
  const std::string short_tokens = stack_->set().log_dir() + "/short-tokens";
  std::ofstream(short_tokens) << "someone short-token\n";
  const std::vector<std::vector<std::string>> cases = {
      {},                                                     // neither
      {"--tls-cert", stack_->pki().cert("history-service")},  // no key
      {"--insecure-plaintext", "--tls-ca", stack_->pki().ca()},
      {"--tls-cert", stack_->pki().cert("history-service"), "--tls-key",
       stack_->pki().key("auditor")},  // a key of another certificate
      {"--insecure-plaintext", "--auth-tokens-file", short_tokens},
  };
  for (const auto& flags : cases) {
    std::vector<std::string> argv = {HistoryServiceBin(), "--listen",
                                     absl::StrCat("127.0.0.1:", FreePort()), "--database-url",
                                     stack_->set().history_url()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    auto p = Process::Spawn(argv, {}, log);
    ASSERT_TRUE(p.ok());
    auto rc = p->Wait(absl::Seconds(20));
    ASSERT_TRUE(rc.ok());
    EXPECT_EQ(*rc, 2) << ReadWholeFile(log);
  }
  EXPECT_NE(ReadWholeFile(log).find("--insecure-plaintext"), std::string::npos);
  EXPECT_NE(ReadWholeFile(log).find("is not the key of the certificate"), std::string::npos);
  EXPECT_NE(ReadWholeFile(log).find("at least 16 are required"), std::string::npos);
}

}  // namespace
}  // namespace booking::testing
