// The fault suite: a steady load of status changes from several client
// threads against two booking-service replicas (booking store and history
// store on two PostgreSQL servers) while history-service is SIGKILLed several
// times, one booking replica is SIGKILLed, and each PostgreSQL server is
// stopped and started again. Afterwards every change acknowledged to a client
// is in history exactly once, in per-booking order, and history holds nothing
// the booking store does not. Prints what it did and counted.
//
// Why PostgreSQL of its own (SplitStackSuite, not PgSuite): the suite stops
// and restarts each store's server, the booking store's and the history
// store's on their own, so each store has a server of its own.
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "booking/v1/booking.grpc.pb.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "tests/support/grpc_client.h"
#include "tests/support/history_check.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"
#include "tests/support/stack_suite.h"
#include "tests/support/status_load.h"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

// What the suite did, printed at the end.
struct Tally {
  absl::Time start = absl::Now();
  int history_kills = 0;
  int booking_kills = 0;
  int booking_pg_restarts = 0;
  int history_pg_restarts = 0;
  std::vector<std::string> steps;

  void Step(const std::string& what) {
    const std::string line = absl::StrCat(
        "[fault] t=",
        absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Milliseconds(100))), " ", what);
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    steps.push_back(line);
  }
};

// One booking-service call while its store is down: UNAVAILABLE, promptly.
void ExpectFastUnavailable(const std::string& target) {
  auto stub =
      v1::BookingService::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  v1::GetBookingRequest request;
  request.set_booking_id("any");
  v1::Booking response;
  const absl::Time started = absl::Now();
  grpc::Status status =
      stub->GetBooking(AuthedContext(ServiceSet::kToken).get(), request, &response);
  const absl::Duration took = absl::Now() - started;
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  // Fail fast: the 15 s deadline of the call is far off.
  EXPECT_LT(took, absl::Seconds(5)) << "a call with the store down took " << took;
}

// The faults, each a step of one run against a load: the services and both
// PostgreSQL servers killed or stopped and started again. Between faults the
// load runs on for a while (HoldFor: the scenario's length, not a wait).
struct FaultRun {
  ServiceSet& s;
  PgCluster& booking_pg;
  PgCluster& history_pg;
  StatusLoad& load;
  Tally tally;

  void KillHistory(absl::Duration down) {
    ASSERT_TRUE(s.StopHistory(SIGKILL).ok());
    ++tally.history_kills;
    tally.Step(absl::StrCat("SIGKILL history-service (", tally.history_kills, ")"));
    HoldFor(down);
    ASSERT_TRUE(s.StartHistory().ok()) << s.Logs();
    tally.Step("history-service started again");
  }

  // A booking replica dies, holding its share of the outbox partitions; the
  // other takes them over.
  void KillBookingReplica() {
    ASSERT_TRUE(s.StopBookingReplica(1, SIGKILL).ok());
    ++tally.booking_kills;
    tally.Step("SIGKILL booking-service replica 1");
  }

  // The booking store goes away: health NOT_SERVING, calls UNAVAILABLE at
  // once; then back: SERVING, and the load goes on by itself.
  void BookingStoreOutage() {
    ASSERT_TRUE(booking_pg.Stop().ok());
    tally.Step("booking PostgreSQL stopped");
    EXPECT_EQ(WaitHealth(s.booking_target(0), false, absl::Seconds(10)), absl::OkStatus());
    tally.Step("booking-service replica 0 health NOT_SERVING");
    ExpectFastUnavailable(s.booking_target(0));
    HoldFor(absl::Seconds(1));
    ASSERT_TRUE(booking_pg.Restart().ok());
    ++tally.booking_pg_restarts;
    tally.Step("booking PostgreSQL started again");
    EXPECT_EQ(WaitHealth(s.booking_target(0), true, absl::Seconds(15)), absl::OkStatus());
    tally.Step("booking-service replica 0 health SERVING");
  }

  // The history store goes away: history-service NOT_SERVING, bookings go on.
  void HistoryStoreOutage() {
    ASSERT_TRUE(history_pg.Stop().ok());
    tally.Step("history PostgreSQL stopped");
    EXPECT_EQ(WaitHealth(s.history_target(), false, absl::Seconds(10)), absl::OkStatus());
    tally.Step("history-service health NOT_SERVING");
    const int64_t acked_before = load.acked_count();
    HoldFor(absl::Milliseconds(1500));
    EXPECT_GT(load.acked_count(), acked_before) << "booking calls stopped with history's store";
    ASSERT_TRUE(history_pg.Restart().ok());
    ++tally.history_pg_restarts;
    tally.Step("history PostgreSQL started again");
    EXPECT_EQ(WaitHealth(s.history_target(), true, absl::Seconds(15)), absl::OkStatus());
    tally.Step("history-service health SERVING");
  }

  void Run() {
    HoldFor(absl::Seconds(3));
    ASSERT_NO_FATAL_FAILURE(KillHistory(absl::Milliseconds(1500)));
    HoldFor(absl::Milliseconds(2500));
    ASSERT_NO_FATAL_FAILURE(KillBookingReplica());
    HoldFor(absl::Seconds(3));
    ASSERT_NO_FATAL_FAILURE(BookingStoreOutage());
    HoldFor(absl::Seconds(2));
    ASSERT_NO_FATAL_FAILURE(KillHistory(absl::Milliseconds(500)));
    ASSERT_TRUE(s.StartBookingReplica(1).ok()) << s.Logs();
    tally.Step("booking-service replica 1 started again");
    HoldFor(absl::Seconds(3));
    ASSERT_NO_FATAL_FAILURE(HistoryStoreOutage());
    HoldFor(absl::Seconds(2));
    ASSERT_NO_FATAL_FAILURE(KillHistory(absl::ZeroDuration()));
    HoldFor(absl::Seconds(3));
  }
};

void PrintSummary(const ServiceSet& s, const StatusLoad& load, const Tally& tally, const Stores& st,
                  int64_t store_changes) {
  double sent = 0, relay_acked = 0, reconnects = 0;
  for (int replica : {0, 1}) {
    sent += ScrapeMetric(s.booking_metrics_target(replica), "relay_events_sent_total").value_or(0);
    relay_acked +=
        ScrapeMetric(s.booking_metrics_target(replica), "relay_events_acked_total").value_or(0);
    reconnects +=
        ScrapeMetric(s.booking_metrics_target(replica), "relay_reconnects_total").value_or(0);
  }
  std::string failures;
  for (const auto& [code, n] : load.failures()) absl::StrAppend(&failures, " ", code, "=", n);
  std::printf(
      "[fault] summary: duration %s; %zu changes acknowledged (%d bookings, 4 client threads); "
      "%lld failed calls, retried with the same request id:%s; history-service SIGKILLed %d "
      "times; booking-service replicas SIGKILLed %d; booking PostgreSQL restarted %d, history "
      "PostgreSQL restarted %d; history rows %lld (= store versions %lld), duplicates 0, "
      "outbox empty, set aside 0; relay counters since the last start of each replica: sent "
      "%.0f, acked %.0f, reconnects %.0f\n",
      absl::FormatDuration(absl::Trunc(absl::Now() - tally.start, absl::Seconds(1))).c_str(),
      load.acked().size(), static_cast<int>(st.store.size()),
      static_cast<long long>(load.failed_calls()), failures.c_str(), tally.history_kills,
      tally.booking_kills, tally.booking_pg_restarts, tally.history_pg_restarts,
      static_cast<long long>(st.history_rows), static_cast<long long>(store_changes), sent,
      relay_acked, reconnects);
}

class FaultSuite : public SplitStackSuite {
 protected:
  // history-service and two booking-service replicas.
  static void SetUpTestSuite() { StartSplitStack("fault", {.booking_replicas = 2}); }
};

TEST_F(FaultSuite, EveryAcknowledgedChangeReachesHistoryExactlyOnce) {
  ServiceSet& s = *set_;
  auto load = StatusLoad::Start({.target = s.booking_targets(),
                                 .token = ServiceSet::kToken,
                                 .booking_prefix = "fault",
                                 .threads = 4,
                                 .bookings_per_thread = 3});
  ASSERT_TRUE(load.ok()) << load.status();
  FaultRun run{s, *booking_pg_, *history_pg_, **load, {}};
  run.tally.Step("two booking-service replicas, one history-service; load started");
  ASSERT_NO_FATAL_FAILURE(run.Run());
  (*load)->Stop();
  run.tally.Step(absl::StrCat("load stopped: ", (*load)->acked_count(), " changes acknowledged"));
  // Every committed event drains.
  ASSERT_EQ(WaitOutboxDrained(s), absl::OkStatus()) << s.Logs();
  run.tally.Step("outbox drained");

  Stores st = ReadStores(s);
  int64_t store_changes = 0;
  ASSERT_NO_FATAL_FAILURE(ExpectHistoryIsTheStoresChanges(st, &store_changes));
  ASSERT_NO_FATAL_FAILURE(ExpectEveryAckInHistory(**load, st, store_changes));
  PrintSummary(s, **load, run.tally, st, store_changes);
  if (HasFailure()) std::printf("%s\n", s.Logs().c_str());
}

}  // namespace
}  // namespace booking::testing
