// Certificates, tokens and the policy change on disk while the services run:
// new connections get the new certificate, the new token works and the old
// one no longer does, without a restart, and calls made all along succeed.
#include <atomic>
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "booking/v1/booking.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "history/v1/history.grpc.pb.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/secure_stack_suite.h"
#include "tests/support/security_stack.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

// Calls `call` back to back on one channel until stopped; counts failures.
class SteadyCalls {
 public:
  explicit SteadyCalls(std::function<grpc::Status()> call)
      : thread_([this, call = std::move(call)] {
          while (!stop_) {
            grpc::Status s = call();
            ++calls_;
            if (!s.ok()) {
              ++failures_;
              last_error_ = absl::StrCat(s.error_code(), " ", s.error_message());
            }
            Pace(absl::Milliseconds(10));
          }
        }) {}
  ~SteadyCalls() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int calls() const { return calls_; }
  // Until `more` calls beyond those made so far have returned.
  bool WaitForMore(int more) {
    const int want = calls_ + more;
    return WaitFor([&] { return calls_ >= want; }, absl::Seconds(30), "more calls",
                   absl::Milliseconds(10))
        .ok();
  }
  int failures() const { return failures_; }
  std::string last_error() const { return last_error_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> calls_{0}, failures_{0};
  std::string last_error_;  // read after Stop
  std::thread thread_;
};

class SecurityRotationTest : public SecureStackSuite {
 protected:
  static void SetUpTestSuite() { StartSecureStack("rot"); }

  // The certificate history-service presents to a new connection.
  static std::string ServedCertificate(int attempt) {
    grpc::ChannelArguments args;
    args.SetInt("test.attempt", attempt);  // a connection of its own
    auto stub = grpc::health::v1::Health::NewStub(grpc::CreateCustomChannel(
        stack_->set().history_target(), stack_->pki().Client("tool"), args));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::health::v1::HealthCheckResponse out;
    if (!stub->Check(&context, {}, &out).ok()) return "";
    auto pem = context.auth_context()->FindPropertyValues("x509_pem_cert");
    return pem.empty() ? "" : std::string(pem.front().data(), pem.front().size());
  }

  static grpc::Status ReadHistory(history::v1::HistoryService::Stub& stub,
                                  const std::string& token) {
    auto context = SecureStack::Context(Caller::Token(token));
    history::v1::GetBookingHistoryRequest request;
    request.set_booking_id("bk-rotation");
    history::v1::GetBookingHistoryResponse out;
    return stub.GetBookingHistory(context.get(), request, &out);
  }
};

TEST_F(SecurityRotationTest, NewConnectionsGetTheNewCertificateCallsInFlightSucceed) {
  const std::string before = ServedCertificate(0);
  ASSERT_EQ(before, ReadWholeFile(stack_->pki().cert("history-service")));
  auto stub = history::v1::HistoryService::NewStub(
      stack_->Channel(stack_->set().history_target(), Caller::Cert("auditor")));
  SteadyCalls steady([&] {
    auto context = SecureStack::Context(Caller::Cert("auditor"));
    history::v1::GetBookingHistoryRequest request;
    request.set_booking_id("bk-rotation");
    history::v1::GetBookingHistoryResponse out;
    return stub->GetBookingHistory(context.get(), request, &out);
  });
  ASSERT_TRUE(stack_->pki().Issue("history-service").ok());  // new key and certificate
  const std::string after = ReadWholeFile(stack_->pki().cert("history-service"));
  ASSERT_NE(after, before);
  const absl::Time rotated = absl::Now();
  std::string served;
  int attempt = 0;
  (void)WaitFor([&] { return (served = ServedCertificate(++attempt)) == after; }, absl::Seconds(30),
                "the new certificate served", absl::Milliseconds(200));
  EXPECT_EQ(served, after) << "history-service still serves the old certificate";
  std::cout << "new certificate served " << absl::FormatDuration(absl::Now() - rotated)
            << " after the files changed\n";
  EXPECT_TRUE(steady.WaitForMore(20));  // calls on the old connection go on
  steady.Stop();
  EXPECT_GT(steady.calls(), 10);
  EXPECT_EQ(steady.failures(), 0) << steady.last_error();
  // The relay (booking-service's client certificate) still delivers.
  ASSERT_TRUE(stack_->CreateBooking("bk-after-rotation").ok());
  EXPECT_TRUE(WaitForCount(stack_->set().history_url(),
                           "SELECT count(*) FROM \"BookingStatusHistory\" WHERE \"bookingId\" = "
                           "'bk-after-rotation'",
                           1, absl::Seconds(20)))
      << stack_->set().Logs();
}

TEST_F(SecurityRotationTest, TokensReloadWithoutRestartCallsInFlightSucceed) {
  const pid_t booking_pid = stack_->set().booking_pid(0);
  auto history = history::v1::HistoryService::NewStub(
      stack_->Channel(stack_->set().history_target(), Caller::Cert("tool")));
  ASSERT_TRUE(ReadHistory(*history, SecureStack::kReaderToken).ok());
  const std::string fresh = "token-reader-rotated-0002";
  EXPECT_EQ(ReadHistory(*history, fresh).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  auto bookings = v1::BookingService::NewStub(
      stack_->Channel(stack_->set().booking_target(), Caller::Cert("tool")));
  SteadyCalls steady([&] {  // the writer's token stays: its calls never fail
    auto context = SecureStack::Context(Caller::Token(SecureStack::kWriterToken));
    v1::ListBookingsRequest request;
    v1::ListBookingsResponse out;
    return bookings->ListBookings(context.get(), request, &out);
  });
  ASSERT_TRUE(steady.WaitForMore(10));
  {
    // Replaced by rename, as a Secret volume does.
    const std::string next = stack_->tokens_file() + ".next";
    std::ofstream(next) << SecureStack::kWriterPrincipal << " " << SecureStack::kWriterToken
                        << "\nreader@test " << fresh << "\n";
    ASSERT_EQ(std::rename(next.c_str(), stack_->tokens_file().c_str()), 0);
  }
  const absl::Time changed = absl::Now();
  EXPECT_EQ(WaitFor([&] { return ReadHistory(*history, fresh).ok(); }, absl::Seconds(30),
                    "the new token accepted", absl::Milliseconds(100)),
            absl::OkStatus());
  std::cout << "new token accepted " << absl::FormatDuration(absl::Now() - changed)
            << " after the file changed\n";
  EXPECT_EQ(ReadHistory(*history, SecureStack::kReaderToken).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(steady.WaitForMore(10));
  steady.Stop();
  EXPECT_GT(steady.calls(), 10);
  EXPECT_EQ(steady.failures(), 0) << steady.last_error();
  EXPECT_EQ(stack_->set().booking_pid(0), booking_pid) << "booking-service restarted";
}

TEST_F(SecurityRotationTest, PolicyReloadsWithoutRestart) {
  auto history = history::v1::HistoryService::NewStub(
      stack_->Channel(stack_->set().history_target(), Caller::Cert("intruder")));
  const auto read = [&] {
    auto context = SecureStack::Context(Caller::Cert("intruder"));
    history::v1::GetBookingHistoryRequest request;
    request.set_booking_id("bk-rotation");
    history::v1::GetBookingHistoryResponse out;
    return history->GetBookingHistory(context.get(), request, &out);
  };
  ASSERT_EQ(read().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  {
    const std::string next = stack_->policy_file() + ".next";
    std::ofstream(next) << SecureStack::kPolicy << "allow " << kSpiffePrefix
                        << "intruder /history.v1.HistoryService/GetBookingHistory\n";
    ASSERT_EQ(std::rename(next.c_str(), stack_->policy_file().c_str()), 0);
  }
  EXPECT_EQ(WaitFor([&] { return read().ok(); }, absl::Seconds(30), "the new policy in force",
                    absl::Milliseconds(100)),
            absl::OkStatus());
  // A policy that no longer loads leaves the last good one in force.
  std::ofstream(stack_->policy_file()) << "allow nothing-here\n";
  EXPECT_EQ(WaitFor([&] { return stack_->set().Logs().find("reload failed") != std::string::npos; },
                    absl::Seconds(30), "\"reload failed\" in the log", absl::Milliseconds(100)),
            absl::OkStatus());
  EXPECT_TRUE(read().ok());
}

}  // namespace
}  // namespace booking::testing
