// The probes' port (--health-listen) is served by a process of the service's
// own (common/health_process.h). It must tell the truth about its service and
// never outlive it: the service's verdict (health "", its name, "readiness")
// and liveness on the health port; NOT SERVING through a drain, then gone with
// the service; gone when the service is killed; liveness NOT_SERVING while the
// service is stopped (hung), back when it resumes; a health port that cannot
// be had refuses the start.
#include "common/health_process.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <future>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "booking/v1/booking.grpc.pb.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "tests/support/grpc_client.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/process.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"
#include "tests/support/stack_suite.h"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

constexpr char kService[] = "booking.v1.BookingService";
constexpr char kLiveness[] = "liveness";
constexpr char kReadiness[] = "readiness";  // deploy/'s readiness probes

// Gone: no such process, or a zombie waiting for whoever reaps it.
bool Gone(pid_t pid) {
  const std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  const size_t paren = stat.rfind(')');
  return stat.empty() || (paren != std::string::npos && stat.substr(paren + 2, 1) == "Z");
}

absl::Status WaitGone(pid_t pid, absl::Duration timeout) {
  return WaitFor([pid] { return Gone(pid); }, timeout, absl::StrCat("process ", pid, " gone"));
}

class HealthProcessTest : public StackSuite {
 protected:
  static void SetUpTestSuite() { StartStack("healthproc"); }

  // Replica 1 of booking-service with a health port; its health process.
  void StartWithHealthPort() {
    health_target_ = absl::StrCat("127.0.0.1:", FreePort());
    ASSERT_TRUE(set_->StartBookingReplica(1, {"--health-listen", health_target_}).ok())
        << set_->Logs();
    ASSERT_TRUE(WaitHealth(health_target_, true, absl::Seconds(30)).ok()) << set_->Logs();
    const std::vector<pid_t> children = ChildrenOf(set_->booking_pid(1));
    ASSERT_EQ(children.size(), 1u) << "the health process, a child of the service";
    health_pid_ = children[0];
  }

  std::string health_target_;
  pid_t health_pid_ = -1;
};

TEST_F(HealthProcessTest, AnswersForItsServiceFromAProcessOfItsOwn) {
  ASSERT_NO_FATAL_FAILURE(StartWithHealthPort());
  EXPECT_NE(health_pid_, set_->booking_pid(1));
  for (const std::string service : {"", kService, kLiveness, kReadiness}) {
    absl::StatusOr<bool> serving = IsServing(health_target_, service);
    ASSERT_TRUE(serving.ok()) << service << ": " << serving.status();
    EXPECT_TRUE(*serving) << service;
  }
  EXPECT_EQ(set_->StopBookingReplica(1, SIGTERM).value_or(-1), 0) << set_->Logs();
  EXPECT_TRUE(WaitGone(health_pid_, absl::Seconds(10)).ok());
}

TEST_F(HealthProcessTest, NotServingThroughTheDrainThenEndsWithTheService) {
  ASSERT_NO_FATAL_FAILURE(StartWithHealthPort());
  auto stub = v1::BookingService::NewStub(
      grpc::CreateChannel(set_->booking_target(1), grpc::InsecureChannelCredentials()));
  v1::CreateBookingRequest create;
  create.set_booking_id("held-by-health-test");
  create.set_customer_id("c");
  v1::Booking held;
  ASSERT_TRUE(stub->CreateBooking(AuthedContext(ServiceSet::kToken).get(), create, &held).ok());
  // A call in flight through the drain: it waits for a row lock held here.
  pqxx::connection locker(set_->booking_url());
  auto lock = std::make_unique<pqxx::work>(locker);
  lock->exec(R"(SELECT 1 FROM "Booking" WHERE id = 'held-by-health-test' FOR UPDATE)");
  std::promise<grpc::Status> held_result;
  std::thread held_call([&] {
    v1::ChangeStatusRequest request;
    request.set_booking_id("held-by-health-test");
    request.set_target_status(v1::CONFIRMED);
    v1::ChangeStatusResponse response;
    held_result.set_value(
        stub->ChangeStatus(AuthedContext(ServiceSet::kToken).get(), request, &response));
  });
  EXPECT_EQ(WaitFor(
                [&] {
                  return QueryCount(set_->booking_url(),
                                    "SELECT count(*) FROM pg_locks WHERE NOT granted AND "
                                    "locktype = 'transactionid'") > 0;
                },
                absl::Seconds(30), "the held call waiting on the row lock"),
            absl::OkStatus());

  set_->SignalBookingReplica(1, SIGTERM);
  // Draining: the probes' port answers NOT_SERVING (not "refused"), for
  // the readiness probe's name too, and liveness stays SERVING: a draining
  // service is not restarted.
  EXPECT_TRUE(WaitHealth(health_target_, false, absl::Seconds(5)).ok());
  EXPECT_EQ(IsServing(health_target_, kReadiness).value_or(true), false);
  EXPECT_EQ(IsServing(health_target_, kLiveness).value_or(false), true);
  EXPECT_FALSE(Gone(health_pid_));

  lock->commit();
  held_call.join();
  EXPECT_TRUE(held_result.get_future().get().ok());
  absl::StatusOr<int> exit_code = set_->WaitBookingReplica(1, absl::Seconds(25));
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0) << set_->Logs();
  EXPECT_TRUE(WaitGone(health_pid_, absl::Seconds(10)).ok()) << "outlived its service";
  EXPECT_FALSE(IsServing(health_target_).ok()) << "the health port still answers";
}

TEST_F(HealthProcessTest, KilledServiceTakesItsHealthProcessWithIt) {
  ASSERT_NO_FATAL_FAILURE(StartWithHealthPort());
  set_->SignalBookingReplica(1, SIGKILL);
  ASSERT_TRUE(set_->WaitBookingReplica(1, absl::Seconds(10)).ok());
  EXPECT_TRUE(WaitGone(health_pid_, absl::Seconds(10)).ok()) << "outlived its service";
  EXPECT_FALSE(IsServing(health_target_).ok()) << "the health port still answers";
}

TEST_F(HealthProcessTest, HungServiceIsNotLiveUntilItResumes) {
  ASSERT_NO_FATAL_FAILURE(StartWithHealthPort());
  const absl::Time stopped = absl::Now();
  set_->SignalBookingReplica(1, SIGSTOP);
  const absl::Duration patience = HealthProcess::kStaleAfter + absl::Seconds(10);
  EXPECT_TRUE(WaitHealth(health_target_, false, patience, kLiveness).ok());
  EXPECT_GE(absl::Now() - stopped, HealthProcess::kStaleAfter - absl::Seconds(1))
      << "liveness failed before the service was silent for kStaleAfter";
  EXPECT_EQ(IsServing(health_target_, kService).value_or(true), false);
  EXPECT_EQ(IsServing(health_target_, kReadiness).value_or(true), false);
  set_->SignalBookingReplica(1, SIGCONT);
  EXPECT_TRUE(WaitHealth(health_target_, true, absl::Seconds(10), kLiveness).ok());
  EXPECT_TRUE(WaitHealth(health_target_, true, absl::Seconds(10), kService).ok());
  EXPECT_TRUE(WaitHealth(health_target_, true, absl::Seconds(10), kReadiness).ok());
  EXPECT_EQ(set_->StopBookingReplica(1, SIGTERM).value_or(-1), 0) << set_->Logs();
}

TEST_F(HealthProcessTest, ATakenHealthPortRefusesTheStart) {
  const int taken = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(addr);
  ASSERT_EQ(bind(taken, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(taken, 1), 0);
  ASSERT_EQ(getsockname(taken, reinterpret_cast<sockaddr*>(&addr), &length), 0);
  const std::string target = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));

  // StartBookingReplica waits for health; here the start must fail.
  EXPECT_FALSE(set_->StartBookingReplica(2, {"--health-listen", target}).ok());
  absl::StatusOr<int> exit_code = set_->WaitBookingReplica(2, absl::Seconds(15));
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_NE(*exit_code, 0);
  EXPECT_NE(set_->Logs().find("--health-listen " + target + ": address already in use"),
            std::string::npos)
      << set_->Logs();
  close(taken);
}

}  // namespace
}  // namespace booking::testing
