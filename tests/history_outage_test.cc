// history-service down while statuses change: booking calls keep succeeding,
// events wait in the outbox, and once history-service is back every event
// arrives exactly once, in per-booking order.
#include <signal.h>

#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "booking/v1/booking.grpc.pb.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "tests/support/grpc_client.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/service_set.h"

namespace booking::testing {
namespace {

int CountRows(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  return txn.exec(sql)[0][0].as<int>();
}

TEST(HistoryOutage, BookingsKeepWorkingAndEveryEventArrivesOnceAfterwards) {
  auto pg = PgCluster::Start();
  ASSERT_TRUE(pg.ok()) << pg.status();
  auto services = ServiceSet::CreateAndStart(**pg, "outage");
  ASSERT_TRUE(services.ok()) << services.status();
  ServiceSet& s = **services;
  auto stub = v1::BookingService::NewStub(
      grpc::CreateChannel(s.booking_target(), grpc::InsecureChannelCredentials()));

  auto create = [&] {
    v1::CreateBookingRequest request;
    request.set_customer_id("c");
    request.set_payment_settled(true);
    v1::Booking booking;
    grpc::Status st =
        stub->CreateBooking(AuthedContext(ServiceSet::kToken).get(), request, &booking);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return booking.id();
  };
  auto change = [&](const std::string& id, v1::BookingStatus target) {
    v1::ChangeStatusRequest request;
    request.set_booking_id(id);
    request.set_target_status(target);
    v1::ChangeStatusResponse response;
    return stub->ChangeStatus(AuthedContext(ServiceSet::kToken).get(), request, &response);
  };

  // A booking whose first change is recorded while history is up.
  const std::string before = create();

  // history-service dies (SIGKILL: no goodbye on the stream).
  ASSERT_TRUE(s.StopHistory(SIGKILL).ok());
  std::vector<std::string> ids = {before};
  for (int i = 0; i < 10; ++i) ids.push_back(create());
  const v1::BookingStatus path[] = {v1::PICKUP_ASSIGNED, v1::PICKED_UP, v1::AT_WORKSHOP,
                                    v1::IN_SERVICE};
  int changes = 0;
  for (const auto& id : ids) {
    for (v1::BookingStatus target : path) {
      grpc::Status st = change(id, target);
      ASSERT_TRUE(st.ok()) << "booking call failed while history was down: " << st.error_message();
      ++changes;
    }
  }
  const int expected = static_cast<int>(ids.size()) + changes;  // creations + changes
  // The events wait in the outbox (at least those made during the outage).
  EXPECT_GE(CountRows(s.booking_url(), R"(SELECT count(*) FROM "BookingOutbox")"), changes);

  // Back up: the relay reconnects by itself and the outbox drains.
  ASSERT_TRUE(s.StartHistory().ok()) << s.Logs();
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (CountRows(s.booking_url(), R"(SELECT count(*) FROM "BookingOutbox")") > 0) {
    ASSERT_LT(absl::Now(), deadline) << "outbox did not drain\n" << s.Logs();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  pqxx::connection conn(s.history_url());
  pqxx::nontransaction txn(conn);
  pqxx::result totals =
      txn.exec(R"(SELECT count(*), count(DISTINCT "eventId") FROM "BookingStatusHistory")");
  EXPECT_EQ(totals[0][0].as<int>(), expected);
  EXPECT_EQ(totals[0][1].as<int>(), expected);
  // Per booking: sequences 1..5 without gap, in the path's order.
  for (const auto& id : ids) {
    pqxx::result r = txn.exec_params(
        R"(SELECT sequence, "toStatus" FROM "BookingStatusHistory"
           WHERE "bookingId" = $1 ORDER BY sequence)",
        id);
    ASSERT_EQ(r.size(), 5u) << id;
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(r[i][0].as<int>(), i + 1);
      EXPECT_EQ(r[i][1].as<std::string>(),
                i == 0 ? "CONFIRMED" : v1::BookingStatus_Name(path[i - 1]));
    }
  }
  EXPECT_EQ(CountRows(s.booking_url(), R"(SELECT count(*) FROM "BookingOutboxRejected")"), 0);
}

}  // namespace
}  // namespace booking::testing
