// A status change is two messages to the store (booking-service/
// status_change.h): the locked read, then the write with COMMIT. A
// connection lost before the second message was sent committed nothing: the
// change is retried on a fresh connection and the caller sees none of it. A
// connection lost while the second message (holding the COMMIT) was in
// flight may have committed: the caller is told UNAVAILABLE with reason
// OUTCOME_UNKNOWN (not an outage's STORE_UNAVAILABLE: the request id learns
// the outcome), as for a lost COMMIT, and the change is not made a second
// time.
//
// The test holds a lock the change waits for at the chosen message, and
// terminates the booking-service backend waiting on it.
//
// The metadata's stored size, read in the first message, is checked before
// the second: a change whose event history would refuse writes nothing.
#include <future>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "booking/v1/booking.grpc.pb.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "tests/support/booking_client.h"
#include "tests/support/grpc_client.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"
#include "tests/support/stack_suite.h"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

class StatusChangeTest : public StackSuite {
 protected:
  static void SetUpTestSuite() { StartStack("change"); }

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StackSuite::SetUp());
    bookings_ = v1::BookingService::NewStub(
        grpc::CreateChannel(set_->booking_target(), grpc::InsecureChannelCredentials()));
  }

  std::string CreateConfirmed() { return CreateConfirmedBooking(*bookings_); }

  // ChangeStatus to PICKUP_ASSIGNED, answered on another thread.
  std::future<grpc::Status> ChangeLater(const std::string& id) {
    return std::async(std::launch::async, [this, id] {
      v1::ChangeStatusRequest request;
      request.set_booking_id(id);
      request.set_target_status(v1::PICKUP_ASSIGNED);
      v1::ChangeStatusResponse response;
      return bookings_->ChangeStatus(AuthedContext(ServiceSet::kToken).get(), request, &response);
    });
  }

  // Terminates the booking-service backend waiting for a lock while running
  // a message that starts with `message`.
  void TerminateWaiter(const std::string& message) {
    const std::string find = R"(SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
        WHERE application_name = 'booking-service' AND wait_event_type = 'Lock'
          AND starts_with(query, ')" +
                             message + "')";
    ASSERT_EQ(WaitFor([&] { return QueryCount(set_->booking_url(), find) > 0; }, absl::Seconds(30),
                      "a change waiting for the test's lock", absl::Milliseconds(10)),
              absl::OkStatus());
  }

  int64_t Version(const std::string& id) {
    return QueryCount(set_->booking_url(),
                      "SELECT version FROM \"Booking\" WHERE id = '" + id + "'");
  }

  std::unique_ptr<v1::BookingService::Stub> bookings_;
};

TEST_F(StatusChangeTest, LostBeforeTheCommitIsRetriedUnseen) {
  const std::string id = CreateConfirmed();
  pqxx::connection holder(set_->booking_url());
  pqxx::work lock(holder);
  lock.exec("SELECT 1 FROM \"Booking\" WHERE id = " + lock.quote(id) + " FOR UPDATE");
  std::future<grpc::Status> call = ChangeLater(id);
  ASSERT_NO_FATAL_FAILURE(TerminateWaiter("BEGIN"));  // the first message, at the locked read
  lock.abort();
  const grpc::Status status = call.get();
  EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  EXPECT_EQ(Version(id), 2);
}

TEST_F(StatusChangeTest, LostWithTheCommitInFlightIsOutcomeUnknown) {
  const std::string id = CreateConfirmed();
  pqxx::connection holder(set_->booking_url());
  pqxx::work lock(holder);
  lock.exec(R"(LOCK TABLE "BookingOutbox" IN SHARE MODE)");  // the write's event waits
  std::future<grpc::Status> call = ChangeLater(id);
  ASSERT_NO_FATAL_FAILURE(TerminateWaiter("EXECUTE status_change_write"));
  lock.abort();
  const grpc::Status status = call.get();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  // Told apart from an outage: the change may have been made, and repeating
  // the call with its request id says whether; the log says it too.
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(FindDetail(status, &info)) << status.error_message();
  EXPECT_EQ(info.reason(), "OUTCOME_UNKNOWN");
  EXPECT_EQ(info.domain(), "booking.v1");
  EXPECT_TRUE(absl::StrContains(status.error_message(), "same request_id"))
      << status.error_message();
  EXPECT_TRUE(absl::StrContains(set_->Logs(), "outcome unknown")) << set_->Logs();
  // Not made again behind the caller's back: the terminated one rolled back.
  EXPECT_EQ(Version(id), 1);
}

TEST_F(StatusChangeTest, MetadataTooLargeAsStoredWritesNothing) {
  const std::string id = CreateConfirmed();
  v1::ChangeStatusRequest request;
  request.set_booking_id(id);
  request.set_target_status(v1::PICKUP_ASSIGNED);
  // {"k0000":1,...} is under 16 KiB as the request's compact JSON; jsonb's
  // text ({"k0000": 1, ...}) is over it.
  auto* fields = request.mutable_metadata()->mutable_fields();
  for (int i = 0; i < 1500; ++i) (*fields)[absl::StrFormat("k%04d", i)].set_number_value(1);
  v1::ChangeStatusResponse response;
  const grpc::Status status =
      bookings_->ChangeStatus(AuthedContext(ServiceSet::kToken).get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "metadata")) << status.error_message();
  EXPECT_EQ(Version(id), 1);
  EXPECT_EQ(QueryCount(set_->booking_url(),
                       "SELECT count(*) FROM \"BookingOutbox\" WHERE \"bookingId\" = '" + id +
                           "' AND sequence > 1"),
            0);
}

}  // namespace
}  // namespace booking::testing
