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
#include "tests/support/booking_client.h"
#include "tests/support/grpc_client.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/pg_suite.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"

namespace booking::testing {
namespace {

// One PostgreSQL for the suite; each test its own databases and services.
class HistoryOutage : public PgSuite {};

constexpr v1::BookingStatus kPath[] = {v1::PICKUP_ASSIGNED, v1::PICKED_UP, v1::AT_WORKSHOP,
                                       v1::IN_SERVICE};

// Calls to booking-service as the service's own caller.
class Bookings {
 public:
  explicit Bookings(const std::string& target)
      : stub_(v1::BookingService::NewStub(
            grpc::CreateChannel(target, grpc::InsecureChannelCredentials()))) {}
  std::string Create() { return CreateConfirmedBooking(*stub_, "c"); }
  grpc::Status Change(const std::string& id, v1::BookingStatus target) {
    v1::ChangeStatusRequest request;
    request.set_booking_id(id);
    request.set_target_status(target);
    v1::ChangeStatusResponse response;
    return stub_->ChangeStatus(AuthedContext(ServiceSet::kToken).get(), request, &response);
  }

 private:
  std::unique_ptr<v1::BookingService::Stub> stub_;
};

// History holds `expected` events, each once; per booking of `ids`
// sequences 1..5 without gap, in kPath's order.
void ExpectEveryEventOnceInOrder(const ServiceSet& s, const std::vector<std::string>& ids,
                                 int expected) {
  pqxx::connection conn(s.history_url());
  pqxx::nontransaction txn(conn);
  pqxx::result totals =
      txn.exec(R"(SELECT count(*), count(DISTINCT "eventId") FROM "BookingStatusHistory")");
  EXPECT_EQ(totals[0][0].as<int>(), expected);
  EXPECT_EQ(totals[0][1].as<int>(), expected);
  for (const auto& id : ids) {
    pqxx::result r = txn.exec_params(
        R"(SELECT sequence, "toStatus" FROM "BookingStatusHistory"
           WHERE "bookingId" = $1 ORDER BY sequence)",
        id);
    ASSERT_EQ(r.size(), 5u) << id;
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(r[i][0].as<int>(), i + 1);
      EXPECT_EQ(r[i][1].as<std::string>(),
                i == 0 ? "CONFIRMED" : v1::BookingStatus_Name(kPath[i - 1]));
    }
  }
}

TEST_F(HistoryOutage, BookingsKeepWorkingAndEveryEventArrivesOnceAfterwards) {
  auto services = ServiceSet::CreateAndStart(*pg_, "outage");
  ASSERT_TRUE(services.ok()) << services.status();
  ServiceSet& s = **services;
  Bookings bookings(s.booking_target());
  // A booking whose first change is recorded while history is up.
  std::vector<std::string> ids = {bookings.Create()};

  // history-service dies (SIGKILL: no goodbye on the stream).
  ASSERT_TRUE(s.StopHistory(SIGKILL).ok());
  for (int i = 0; i < 10; ++i) ids.push_back(bookings.Create());
  int changes = 0;
  for (const auto& id : ids) {
    for (v1::BookingStatus target : kPath) {
      grpc::Status st = bookings.Change(id, target);
      ASSERT_TRUE(st.ok()) << "booking call failed while history was down: " << st.error_message();
      ++changes;
    }
  }
  // The events wait in the outbox (at least those made during the outage).
  EXPECT_GE(QueryCount(s.booking_url(), R"(SELECT count(*) FROM "BookingOutbox")"), changes);

  // Back up: the relay reconnects by itself and the outbox drains.
  ASSERT_TRUE(s.StartHistory().ok()) << s.Logs();
  ASSERT_TRUE(WaitForCount(s.booking_url(), R"(SELECT count(*) FROM "BookingOutbox")", 0,
                           absl::Seconds(60)))
      << "outbox did not drain\n"
      << s.Logs();
  // Creations + changes.
  ExpectEveryEventOnceInOrder(s, ids, static_cast<int>(ids.size()) + changes);
  EXPECT_EQ(QueryCount(s.booking_url(), R"(SELECT count(*) FROM "BookingOutboxRejected")"), 0);
}

// Metadata whose compact JSON (5 bytes a null) and protobuf encoding (4) are
// under 16 KiB but whose jsonb text (6: "null, ") is over it, which the
// history table's CHECK refuses.
std::string WideMetadataJson() {
  std::vector<std::string> nulls(3000, "null");
  return absl::StrCat("{\"k\":[", absl::StrJoin(nulls, ","), "]}");
}

// The outbox with bad events between good ones, in one batch: one each
// refused by history-service's validation, the relay's, and the history
// table's own CHECK.
void FillOutboxWithBadEvents(const ServiceSet& s) {
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

// The three bad events set aside, each with its reason, logged and counted.
void ExpectBadEventsSetAside(const ServiceSet& s) {
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

TEST_F(HistoryOutage, MalformedEventsAreSetAsideAndTheRestArrive) {
  auto services = ServiceSet::CreateAndStart(*pg_, "malformed");
  ASSERT_TRUE(services.ok()) << services.status();
  ServiceSet& s = **services;
  // No relay while the outbox is prepared: the bad events go in one batch
  // with good ones before and after them.
  ASSERT_TRUE(s.StopBooking(SIGTERM).ok());
  FillOutboxWithBadEvents(s);
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

  ASSERT_TRUE(WaitForCount(s.booking_url(), R"(SELECT count(*) FROM "BookingOutbox")", 0,
                           absl::Seconds(30)))
      << "outbox did not drain\n"
      << s.Logs();
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
  ExpectBadEventsSetAside(s);
}

}  // namespace
}  // namespace booking::testing
