// SIGTERM: both services drain and exit 0 (under the sanitizer build, also
// without leaks), and nothing committed before is lost. Under load: calls in
// flight finish, new ones are refused, every acknowledged change reaches
// history; history-service ends its ingest streams after their batch instead
// of waiting for the drain timeout.
#include <signal.h>

#include <future>
#include <map>
#include <thread>

#include "booking/v1/booking.grpc.pb.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "tests/support/grpc_client.h"
#include "tests/support/history_check.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/pg_suite.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"
#include "tests/support/status_load.h"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

// One PostgreSQL for the suite; each test its own databases and services.
class Shutdown : public PgSuite {};

TEST_F(Shutdown, SigtermDrainsAndExitsZero) {
  auto services = ServiceSet::CreateAndStart(*pg_, "shutdown");
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

// A new call to `target` is refused UNAVAILABLE once the drain has begun
// (at most 10 s after the signal).
void ExpectNewCallsRefused(const std::string& target) {
  grpc::Status last;
  const absl::Status refused = WaitFor(
      [&] {
        auto fresh = v1::BookingService::NewStub(
            grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
        v1::GetBookingRequest request;
        request.set_booking_id("held");
        v1::Booking response;
        last = fresh->GetBooking(AuthedContext(ServiceSet::kToken).get(), request, &response);
        return last.error_code() == grpc::StatusCode::UNAVAILABLE;
      },
      absl::Seconds(10), "a new call refused UNAVAILABLE");
  EXPECT_EQ(refused, absl::OkStatus()) << last.error_code() << " " << last.error_message();
}

// history-service, SIGTERMed while the relay streams a backlog of 20,000
// rows: it ends the stream after the batch in progress, well before its
// drain timeout. Sets `*exit_after` to the time from SIGTERM to its exit.
void StopHistoryMidBacklog(ServiceSet& s, absl::Duration* exit_after) {
  ASSERT_TRUE(s.StopHistory(SIGTERM).ok());
  ASSERT_TRUE(s.StartHistory({"--drain-timeout", "30s"}).ok()) << s.Logs();
  {
    pqxx::connection conn(s.booking_url());
    pqxx::work txn(conn);
    txn.exec(R"(INSERT INTO "BookingOutbox" ("bookingId", sequence, "toStatus", "changedBy")
                SELECT 'backlog-' || g, 1, 'CONFIRMED', 'test' FROM generate_series(1, 20000) g)");
    txn.commit();
  }
  ASSERT_TRUE(s.StartBooking().ok()) << s.Logs();
  ASSERT_EQ(WaitFor(
                [&] {
                  return QueryCount(s.history_url(),
                                    R"(SELECT count(*) FROM "BookingStatusHistory")") >= 1000;
                },
                absl::Seconds(60), "1000 rows of the backlog in history"),
            absl::OkStatus())
      << s.Logs();
  const absl::Time history_sigterm = absl::Now();
  s.SignalHistory(SIGTERM);
  absl::StatusOr<int> history_exit = s.WaitHistory(absl::Seconds(40));
  ASSERT_TRUE(history_exit.ok()) << history_exit.status();
  EXPECT_EQ(*history_exit, 0) << s.Logs();
  *exit_after = absl::Now() - history_sigterm;
  EXPECT_LT(*exit_after, absl::Seconds(10)) << "history-service waited for its stream";
  // The relay's stream was either waiting (cancelled at once) or finishing
  // a batch (acknowledged, then ended).
  EXPECT_NE(s.Logs().find("ingest streams end for shutdown"), std::string::npos) << s.Logs();
}

// Back up: everything drains, each acknowledged change once; `backlog`
// changes at least, and no more than the store committed.
void ExpectEachAcknowledgedChangeOnce(ServiceSet& s, const StatusLoad& load, int64_t backlog) {
  ASSERT_TRUE(s.StartHistory().ok()) << s.Logs();
  ASSERT_EQ(WaitOutboxDrained(s, absl::Seconds(60)), absl::OkStatus()) << s.Logs();
  pqxx::connection hconn(s.history_url());
  pqxx::nontransaction htxn(hconn);
  for (const AckedChange& a : load.acked()) {
    EXPECT_EQ(htxn.exec_params(R"(SELECT count(*) FROM "BookingStatusHistory"
                                  WHERE "bookingId" = $1 AND sequence = $2 AND "toStatus" = $3)",
                               a.booking_id, a.version, a.status)[0][0]
                  .as<int>(),
              1)
        << a.booking_id << " v" << a.version;
  }
  EXPECT_EQ(
      htxn.exec(R"(SELECT count(*) - count(DISTINCT "eventId") FROM "BookingStatusHistory")")[0][0]
          .as<int>(),
      0);
  EXPECT_GE(QueryCount(s.history_url(), R"(SELECT count(*) FROM "BookingStatusHistory")"),
            backlog + 1);
  EXPECT_EQ(QueryCount(s.history_url(), R"(SELECT count(*) FROM "BookingStatusHistory")"),
            QueryCount(s.booking_url(), R"(SELECT sum(version) FROM "Booking")") + 20000);
}

// SIGTERM to a booking-service replica with one call held on a row lock and
// a load running: new calls are refused, the held one finishes, exit 0.
// Sets `*exit_after` to the time from SIGTERM to its exit.
void DrainBookingUnderLoad(ServiceSet& s, v1::BookingService::Stub& stub, StatusLoad& load,
                           absl::Duration* exit_after) {
  // One call certainly in flight: it waits for a row lock held here.
  pqxx::connection locker(s.booking_url());
  auto lock = std::make_unique<pqxx::work>(locker);
  lock->exec(R"(SELECT 1 FROM "Booking" WHERE id = 'held' FOR UPDATE)");
  std::promise<grpc::Status> held_result;
  std::thread held_call([&] {
    v1::ChangeStatusRequest request;
    request.set_booking_id("held");
    request.set_target_status(v1::PICKUP_ASSIGNED);
    v1::ChangeStatusResponse response;
    held_result.set_value(
        stub.ChangeStatus(AuthedContext(ServiceSet::kToken).get(), request, &response));
  });
  EXPECT_EQ(WaitFor([&] { return load.acked_count() >= 100; }, absl::Seconds(60),
                    "100 changes acknowledged under load"),
            absl::OkStatus());
  const absl::Time sigterm = absl::Now();
  s.SignalBookingReplica(0, SIGTERM);
  ExpectNewCallsRefused(s.booking_target());
  // ... while the one in flight is still waiting, and finishes once it can.
  auto held_future = held_result.get_future();
  EXPECT_EQ(held_future.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  lock->commit();
  held_call.join();
  grpc::Status held_status = held_future.get();
  EXPECT_TRUE(held_status.ok()) << "the call in flight at SIGTERM: " << held_status.error_message();
  absl::StatusOr<int> exit_code = s.WaitBookingReplica(0, absl::Seconds(25));
  ASSERT_TRUE(exit_code.ok()) << exit_code.status() << s.Logs();
  EXPECT_EQ(*exit_code, 0) << s.Logs();
  *exit_after = absl::Now() - sigterm;
}

TEST_F(Shutdown, SigtermUnderLoadFinishesInFlightCallsAndExitsZero) {
  auto services = ServiceSet::CreateAndStart(*pg_, "drain");
  ASSERT_TRUE(services.ok()) << services.status();
  ServiceSet& s = **services;
  auto stub = v1::BookingService::NewStub(
      grpc::CreateChannel(s.booking_target(), grpc::InsecureChannelCredentials()));
  v1::CreateBookingRequest create;
  create.set_booking_id("held");
  create.set_customer_id("c");
  create.set_payment_settled(true);
  v1::Booking held;
  ASSERT_TRUE(stub->CreateBooking(AuthedContext(ServiceSet::kToken).get(), create, &held).ok());
  // Calls from client threads, without retries: each call either is
  // acknowledged or fails.
  auto load = StatusLoad::Start({.target = s.booking_target(),
                                 .token = ServiceSet::kToken,
                                 .booking_prefix = "drain",
                                 .threads = 4,
                                 .bookings_per_thread = 1,
                                 .retry_until_ok = false});
  ASSERT_TRUE(load.ok());
  absl::Duration booking_exit;
  ASSERT_NO_FATAL_FAILURE(DrainBookingUnderLoad(s, *stub, **load, &booking_exit));
  (*load)->Stop();
  for (const auto& [code, n] : (*load)->failures()) {
    EXPECT_TRUE(code == "UNAVAILABLE" || code == "CANCELLED") << n << " calls failed " << code;
  }
  absl::Duration history_exit_after;
  ASSERT_NO_FATAL_FAILURE(StopHistoryMidBacklog(s, &history_exit_after));
  // Changes acknowledged, plus the held one and the backlog.
  ExpectEachAcknowledgedChangeOnce(s, **load, 20000 + (*load)->acked_count() + 1);
  std::printf(
      "[drain] booking-service exited 0 %s after SIGTERM with the held call finished; %lld "
      "changes acknowledged under load, failures %lld (UNAVAILABLE/CANCELLED); "
      "history-service exited %s after SIGTERM mid-backlog (drain timeout 30s)\n",
      absl::FormatDuration(absl::Trunc(booking_exit, absl::Milliseconds(10))).c_str(),
      static_cast<long long>((*load)->acked_count()),
      static_cast<long long>((*load)->failed_calls()),
      absl::FormatDuration(absl::Trunc(history_exit_after, absl::Milliseconds(10))).c_str());
}

}  // namespace
}  // namespace booking::testing
