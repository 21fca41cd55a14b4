// history-service down while statuses change: booking calls keep succeeding,
// events wait in the outbox, and once history-service is back every event
// arrives exactly once, in per-booking order. And a malformed event is set
// aside (logged, counted) without holding up the events after it.
#include <signal.h>

#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "booking/v1/booking.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "tests/support/grpc_client.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"

namespace booking::testing {
namespace {

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
  EXPECT_GE(QueryCount(s.booking_url(), R"(SELECT count(*) FROM "BookingOutbox")"), changes);

  // Back up: the relay reconnects by itself and the outbox drains.
  ASSERT_TRUE(s.StartHistory().ok()) << s.Logs();
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (QueryCount(s.booking_url(), R"(SELECT count(*) FROM "BookingOutbox")") > 0) {
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
  EXPECT_EQ(QueryCount(s.booking_url(), R"(SELECT count(*) FROM "BookingOutboxRejected")"), 0);
}

// Metadata whose compact JSON (5 bytes a null) and protobuf encoding (4) are
// under 16 KiB but whose jsonb text (6: "null, ") is over it, which the
// history table's CHECK refuses.
std::string WideMetadataJson() {
  std::vector<std::string> nulls(3000, "null");
  return absl::StrCat("{\"k\":[", absl::StrJoin(nulls, ","), "]}");
}

TEST(HistoryOutage, MalformedEventsAreSetAsideAndTheRestArrive) {
  auto pg = PgCluster::Start();
  ASSERT_TRUE(pg.ok()) << pg.status();
  auto services = ServiceSet::CreateAndStart(**pg, "malformed");
  ASSERT_TRUE(services.ok()) << services.status();
  ServiceSet& s = **services;
  // No relay while the outbox is prepared: the bad events go in one batch
  // with good ones before and after them.
  ASSERT_TRUE(s.StopBooking(SIGTERM).ok());
  {
    pqxx::connection conn(s.booking_url());
    pqxx::work txn(conn);
    txn.exec(R"(INSERT INTO "BookingOutbox" ("bookingId", sequence, "toStatus", "changedBy")
                VALUES ('good-1', 1, 'CONFIRMED', 'test'))");
    // history-service's validation: not a status of the catalog.
    txn.exec(R"(INSERT INTO "BookingOutbox" ("bookingId", sequence, "toStatus", "changedBy")
                VALUES ('bad-status', 1, 'NOT_A_STATUS', 'test'))");
    // The relay's: metadata that is no JSON object.
    txn.exec(
        R"(INSERT INTO "BookingOutbox" ("bookingId", sequence, "toStatus", "changedBy", metadata)
                VALUES ('bad-metadata', 1, 'CONFIRMED', 'test', '[1, 2]'))");
    // The history table's own CHECK, which passed history-service's checks.
    txn.exec_params(
        R"(INSERT INTO "BookingOutbox" ("bookingId", sequence, "toStatus", "changedBy", metadata)
           VALUES ('bad-wide', 1, 'CONFIRMED', 'test', $1::jsonb))",
        WideMetadataJson());
    txn.exec(
        R"(INSERT INTO "BookingOutbox" ("bookingId", sequence, "fromStatus", "toStatus", "changedBy")
                VALUES ('good-1', 2, 'CONFIRMED', 'PICKUP_ASSIGNED', 'test'))");
    txn.commit();
  }
  ASSERT_TRUE(s.StartBooking().ok()) << s.Logs();
  auto stub = v1::BookingService::NewStub(
      grpc::CreateChannel(s.booking_target(), grpc::InsecureChannelCredentials()));
  v1::CreateBookingRequest create;
  create.set_customer_id("c");
  create.set_payment_settled(true);
  v1::Booking booking;
  ASSERT_TRUE(stub->CreateBooking(AuthedContext(ServiceSet::kToken).get(), create, &booking).ok());

  // booking-service refuses such metadata at the door.
  v1::ChangeStatusRequest wide;
  wide.set_booking_id(booking.id());
  wide.set_target_status(v1::PICKUP_ASSIGNED);
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(WideMetadataJson(), wide.mutable_metadata())
          .ok());
  v1::ChangeStatusResponse response;
  EXPECT_EQ(
      stub->ChangeStatus(AuthedContext(ServiceSet::kToken).get(), wide, &response).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  wide.clear_metadata();
  ASSERT_TRUE(stub->ChangeStatus(AuthedContext(ServiceSet::kToken).get(), wide, &response).ok());

  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (QueryCount(s.booking_url(), R"(SELECT count(*) FROM "BookingOutbox")") > 0) {
    ASSERT_LT(absl::Now(), deadline) << "outbox did not drain\n" << s.Logs();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  pqxx::connection hconn(s.history_url());
  pqxx::nontransaction htxn(hconn);
  pqxx::result stored = htxn.exec(
      R"(SELECT "bookingId", sequence FROM "BookingStatusHistory" ORDER BY "bookingId", sequence)");
  std::vector<std::string> got;
  for (const auto& row : stored) {
    got.push_back(absl::StrCat(row[0].as<std::string>(), "/", row[1].as<int>()));
  }
  EXPECT_EQ(got,
            (std::vector<std::string>{absl::StrCat(booking.id(), "/1"),
                                      absl::StrCat(booking.id(), "/2"), "good-1/1", "good-1/2"}));
  pqxx::connection bconn(s.booking_url());
  pqxx::nontransaction btxn(bconn);
  pqxx::result rejected = btxn.exec(
      R"(SELECT "bookingId", "rejectReason" FROM "BookingOutboxRejected" ORDER BY "bookingId")");
  ASSERT_EQ(rejected.size(), 3u) << s.Logs();
  EXPECT_EQ(rejected[0][0].as<std::string>(), "bad-metadata");
  EXPECT_NE(rejected[0][1].as<std::string>().find("metadata"), std::string::npos);
  EXPECT_EQ(rejected[1][0].as<std::string>(), "bad-status");
  EXPECT_NE(rejected[1][1].as<std::string>().find("NOT_A_STATUS"), std::string::npos);
  EXPECT_EQ(rejected[2][0].as<std::string>(), "bad-wide");
  EXPECT_NE(rejected[2][1].as<std::string>().find("refused by the history table"),
            std::string::npos);

  absl::StatusOr<double> counted =
      ScrapeMetric(s.booking_metrics_target(), "relay_events_rejected_total");
  ASSERT_TRUE(counted.ok()) << counted.status();
  EXPECT_EQ(*counted, 3);
  const std::string logs = s.Logs();
  EXPECT_NE(logs.find("set aside in \\\"BookingOutboxRejected\\\""), std::string::npos) << logs;
}

}  // namespace
}  // namespace booking::testing
