// SIGTERM: both services drain and exit 0 (under the sanitizer build, also
// without leaks), and nothing committed before is lost.
#include <signal.h>

#include "booking/v1/booking.grpc.pb.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "tests/support/grpc_client.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/service_set.h"

namespace booking::testing {
namespace {

TEST(Shutdown, SigtermDrainsAndExitsZero) {
  auto pg = PgCluster::Start();
  ASSERT_TRUE(pg.ok()) << pg.status();
  auto services = ServiceSet::CreateAndStart(**pg, "shutdown");
  ASSERT_TRUE(services.ok()) << services.status();
  ServiceSet& s = **services;

  auto stub = v1::BookingService::NewStub(
      grpc::CreateChannel(s.booking_target(), grpc::InsecureChannelCredentials()));
  v1::CreateBookingRequest request;
  request.set_customer_id("c");
  v1::Booking booking;
  ASSERT_TRUE(stub->CreateBooking(AuthedContext(ServiceSet::kToken).get(), request, &booking).ok());

  absl::StatusOr<int> booking_exit = s.StopBooking(SIGTERM);
  ASSERT_TRUE(booking_exit.ok()) << booking_exit.status();
  EXPECT_EQ(*booking_exit, 0) << s.Logs();
  absl::StatusOr<int> history_exit = s.StopHistory(SIGTERM);
  ASSERT_TRUE(history_exit.ok()) << history_exit.status();
  EXPECT_EQ(*history_exit, 0) << s.Logs();
  EXPECT_NE(s.Logs().find("drained"), std::string::npos);

  // The booking and its event survive the stop (in history, or still in
  // the outbox when the relay stopped first).
  pqxx::connection bconn(s.booking_url());
  pqxx::nontransaction btxn(bconn);
  EXPECT_EQ(btxn.exec_params(R"(SELECT count(*) FROM "Booking" WHERE id = $1)", booking.id())[0][0]
                .as<int>(),
            1);
  const int in_outbox =
      btxn.exec_params(R"(SELECT count(*) FROM "BookingOutbox" WHERE "bookingId" = $1)",
                       booking.id())[0][0]
          .as<int>();
  pqxx::connection hconn(s.history_url());
  pqxx::nontransaction htxn(hconn);
  const int in_history = htxn.exec_params(R"(SELECT count(*) FROM "BookingStatusHistory"
                                             WHERE "bookingId" = $1)",
                                          booking.id())[0][0]
                             .as<int>();
  EXPECT_EQ(in_outbox + in_history, 1);
}

}  // namespace
}  // namespace booking::testing
