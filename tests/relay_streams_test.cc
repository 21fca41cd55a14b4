// The relay over several Ingest streams (booking-service --ingest-streams 4):
// status changes on many bookings from concurrent clients, history-service
// SIGKILLed and started again mid-load. Each stream relays its own share of
// the outbox partitions (a session advisory lock each); afterwards each
// booking's history is exactly its versions, in order, once each, and every
// acknowledged change is there.
#include <signal.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "booking-service/relay_partitions.h"
#include "gtest/gtest.h"
#include "outbox/outbox.h"
#include "tests/support/history_check.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"
#include "tests/support/stack_suite.h"
#include "tests/support/status_load.h"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

constexpr int kStreams = 4;

class RelayStreamsTest : public StackSuite {
 protected:
  static void SetUpTestSuite() {
    StartStack("streams", {.booking_flags = {absl::StrCat("--ingest-streams=", kStreams)}});
  }

  // Booking-store sessions holding a partition lock of the relay: one per
  // stream that relays some partition.
  static int64_t RelaySessions() {
    return QueryCount(set_->booking_url(),
                      absl::StrCat("SELECT count(DISTINCT pid) FROM pg_locks WHERE locktype = "
                                   "'advisory' AND granted AND objsubid = 2 AND classid = ",
                                   kRelayLockClass, " AND objid < ", kRelayMemberKey));
  }
};

TEST_F(RelayStreamsTest, EachBookingsHistoryIsItsVersionsInOrderAcrossAHistoryRestart) {
  ServiceSet& s = *set_;
  auto load = StatusLoad::Start({.target = s.booking_target(),
                                 .token = ServiceSet::kToken,
                                 .booking_prefix = "streams",
                                 .threads = 8,
                                 .bookings_per_thread = 4});
  ASSERT_TRUE(load.ok()) << load.status();
  StatusLoad& l = **load;
  // The partitions are spread over every stream (rebalanced each second), and
  // all of them are relayed (a partition given up by one stream is taken by
  // another at its next rebalance: the gauge may be short meanwhile).
  auto owned = [&] {
    return ScrapeMetric(s.booking_metrics_target(), "relay_partitions_owned").value_or(-1);
  };
  ASSERT_EQ(WaitFor([&] { return RelaySessions() == kStreams && owned() == outbox::kPartitions; },
                    absl::Seconds(30), "every stream to relay a share of all the partitions",
                    absl::Milliseconds(100)),
            absl::OkStatus())
      << "sessions holding partitions: " << RelaySessions() << ", owned " << owned() << "\n"
      << s.Logs();
  ASSERT_EQ(l.WaitForMoreAcked(300, absl::Seconds(60)), absl::OkStatus());

  // history-service dies with batches in flight on every stream; bookings go
  // on meanwhile, and the streams resend what was not acknowledged.
  ASSERT_TRUE(s.StopHistory(SIGKILL).ok());
  ASSERT_EQ(l.WaitForMoreAcked(100, absl::Seconds(60)), absl::OkStatus());
  ASSERT_TRUE(s.StartHistory().ok()) << s.Logs();
  ASSERT_EQ(l.WaitForMoreAcked(300, absl::Seconds(60)), absl::OkStatus());
  l.Stop();

  ASSERT_EQ(WaitOutboxDrained(s), absl::OkStatus()) << s.Logs();
  Stores st = ReadStores(s);
  int64_t store_changes = 0;
  ASSERT_NO_FATAL_FAILURE(ExpectHistoryIsTheStoresChanges(st, &store_changes));
  ASSERT_NO_FATAL_FAILURE(ExpectEveryAckInHistory(l, st, store_changes));
  EXPECT_EQ(st.store.size(), 32u);
  // Since the restart resends may be acknowledged twice (history finds them
  // stored), never fewer than the changes.
  EXPECT_GE(ScrapeMetric(s.booking_metrics_target(), "relay_events_acked_total").value_or(0),
            static_cast<double>(store_changes));
  std::printf("[streams] %d streams: %lld changes on %zu bookings, history restarted once\n",
              kStreams, static_cast<long long>(store_changes), st.store.size());
  if (HasFailure()) std::printf("%s\n", s.Logs().c_str());
}

}  // namespace
}  // namespace booking::testing
