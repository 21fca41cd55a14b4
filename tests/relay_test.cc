// The outbox relay in-process against a real booking store and a fake
// history-service (an Ingest server in this test that acknowledges, or reads
// and never answers, or closes its connections by age):
// - the one backoff helper: jittered, bounded, cut short by a stop signal and
//   a deadline;
// - batches capped by bytes; an event larger than a batch set aside alone;
// - every advisory lock a relay's session holds is a partition it reports;
// - Stop(grace) returns within grace + 1 s with history-service silent or a
//   statement blocked, and nothing unacknowledged leaves the outbox;
// - a GOAWAY (max connection age) after acknowledged batches is reopened at
//   once, not after a backoff.
#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "booking-service/outbox_relay.h"
#include "booking-service/relay_partitions.h"
#include "common/backoff.h"
#include "common/pg.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "history/v1/history.grpc.pb.h"
#include "pqxx/pqxx"
#include "prometheus/registry.h"
#include "tests/support/pg_suite.h"
#include "tests/support/service_set.h"
#include "tests/support/sql.h"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

// Polls `condition` until it holds or `timeout` passes (WaitFor).
bool WaitUntil(const std::function<bool()>& condition, absl::Duration timeout) {
  return WaitFor(condition, timeout, "a condition").ok();
}

TEST(Backoff, GrowsJitteredUpToItsMax) {
  Backoff b(absl::Milliseconds(100), absl::Milliseconds(400));
  const int64_t bases[] = {100, 200, 400, 400, 400};
  for (int64_t base : bases) {
    const absl::Duration pause = b.Next();
    EXPECT_GE(pause, absl::Milliseconds(base) / 2);
    EXPECT_LE(pause, absl::Milliseconds(base));
  }
  EXPECT_EQ(b.attempts(), 5);
  b.Reset();
  EXPECT_LE(b.Next(), absl::Milliseconds(100));
}

TEST(Backoff, WaitEndsAtStopAndRefusesAPausePastTheDeadline) {
  Backoff b(absl::Seconds(10), absl::Seconds(10));
  absl::Notification stop;
  std::thread stopper([&] {
    HoldFor(absl::Milliseconds(100));  // the scenario: a stop during a 10 s pause
    stop.Notify();
  });
  absl::Time start = absl::Now();
  EXPECT_FALSE(b.Wait(&stop));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  stopper.join();
  EXPECT_FALSE(b.Wait(&stop));  // stopped: at once

  start = absl::Now();
  EXPECT_FALSE(b.Wait(absl::Now() + absl::Seconds(1)));  // 5-10 s would overrun it
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(100));
  Backoff quick(absl::Milliseconds(10), absl::Milliseconds(10));
  EXPECT_TRUE(quick.Wait(absl::Now() + absl::Seconds(1)));
}

// history.v1.HistoryService/Ingest, as this test wants it to behave.
class FakeHistory final : public history::v1::HistoryService::Service {
 public:
  enum class Mode { kAcknowledge, kSilent };
  explicit FakeHistory(Mode mode, absl::Duration max_connection_age = absl::ZeroDuration())
      : mode_(mode) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.SetMaxReceiveMessageSize(64 << 20);
    if (max_connection_age > absl::ZeroDuration()) {
      builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                                 static_cast<int>(absl::ToInt64Milliseconds(max_connection_age)));
      builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, 100);
    }
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~FakeHistory() override { server_->Shutdown(std::chrono::system_clock::now()); }

  std::string target() const { return absl::StrCat("127.0.0.1:", port_); }

  grpc::Status Ingest(grpc::ServerContext*,
                      grpc::ServerReaderWriter<history::v1::IngestAck, history::v1::IngestRequest>*
                          stream) override {
    Count(&streams_opened_);
    history::v1::IngestRequest batch;
    while (stream->Read(&batch)) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++batches_;
        largest_batch_ = std::max(largest_batch_, batch.ByteSizeLong());
        if (mode_ == Mode::kAcknowledge) {
          for (const auto& e : batch.events()) ++received_[e.event_id()];
        }
      }
      if (mode_ == Mode::kSilent) continue;  // read, never answered
      history::v1::IngestAck ack;
      ack.set_batch_id(batch.batch_id());
      ack.set_stored(batch.events_size());
      if (!stream->Write(ack)) break;
    }
    Count(&streams_ended_);
    return grpc::Status::OK;
  }

  int batches() { return Get(batches_); }
  int streams_opened() { return Get(streams_opened_); }
  int streams_ended() { return Get(streams_ended_); }
  size_t largest_batch() {
    std::lock_guard<std::mutex> lock(mu_);
    return largest_batch_;
  }
  std::map<std::string, int> received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }

 private:
  void Count(int* n) {
    std::lock_guard<std::mutex> lock(mu_);
    ++*n;
  }
  int Get(const int& n) {
    std::lock_guard<std::mutex> lock(mu_);
    return n;
  }

  const Mode mode_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::mutex mu_;
  int batches_ = 0, streams_opened_ = 0, streams_ended_ = 0;
  size_t largest_batch_ = 0;
  std::map<std::string, int> received_;  // event id -> times
};

class RelayTest : public PgSuite {
 protected:
  void SetUp() override {
    PgSuite::SetUp();
    static int tests = 0;
    auto created = ServiceSet::Create(*pg_, absl::StrCat("relay_", ++tests));
    ASSERT_TRUE(created.ok()) << created.status();
    services_ = *std::move(created);
    url_ = services_->booking_url();
  }

  // `n` events of distinct bookings, each with `pad` bytes of metadata.
  void AddEvents(int n, int pad = 0, const std::string& prefix = "b") {
    Exec(url_, absl::StrCat(R"(INSERT INTO "BookingOutbox"
                                 ("bookingId", sequence, "toStatus", "changedBy", metadata)
                               SELECT ')",
                            prefix, absl::StrCat(next_booking_), R"(-' || g, 1, 'CONFIRMED', 'test',
                                      jsonb_build_object('pad', repeat('x', )",
                            pad, R"())
                               FROM generate_series(1, )",
                            n, ") g"));
    ++next_booking_;
  }
  int64_t Outbox() { return QueryCount(url_, R"(SELECT count(*) FROM "BookingOutbox")"); }

  RelayOptions Options(const std::string& history_target, const std::string& name) {
    RelayOptions o;
    o.database_url = WithConnectionDefaults(url_, name);
    o.history_target = history_target;
    o.idle_wait = absl::Milliseconds(200);
    return o;
  }

  std::unique_ptr<ServiceSet> services_;
  std::string url_;
  int next_booking_ = 0;
};

TEST_F(RelayTest, BatchesAreCappedByBytesAndAnEventLargerThanABatchIsSetAsideAlone) {
  FakeHistory history(FakeHistory::Mode::kAcknowledge);
  AddEvents(30, 3000);     // ~3 KB each: about 10 to a batch of 32 KiB
  AddEvents(1, 40 << 10);  // alone larger than a batch
  AddEvents(30, 3000);     // after it: not held up
  prometheus::Registry metrics;
  RelayOptions options = Options(history.target(), "relay-bytes");
  options.max_batch_bytes = 32 << 10;
  OutboxRelay relay(options, metrics);
  relay.Start();
  ASSERT_TRUE(WaitUntil([&] { return Outbox() == 0; }, absl::Seconds(30)));
  relay.Stop();

  std::map<std::string, int> received = history.received();
  EXPECT_EQ(received.size(), 60u);
  for (const auto& [id, times] : received) EXPECT_EQ(times, 1) << id;
  EXPECT_LE(history.largest_batch(), 32u << 10);
  EXPECT_GE(history.batches(), 6);  // 60 events of ~3 KB cannot go in fewer
  EXPECT_EQ(QueryValue(url_, R"(SELECT count(*) || ' ' || min("rejectReason")
                               FROM "BookingOutboxRejected")")
                .rfind("1 event is ", 0),
            0u)
      << QueryText(url_, R"(SELECT "bookingId", "rejectReason" FROM "BookingOutboxRejected")");
  EXPECT_EQ(QueryCount(url_, R"(SELECT count(*) FROM "BookingOutboxRejected"
                               WHERE length(metadata::text) > 40000)"),
            1);
}

// The partitions whose advisory locks sessions named `application` hold.
std::set<int> LockedPartitions(const std::string& url, const std::string& application) {
  std::set<int> locked;
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  for (const pqxx::row& row : txn.exec_params(
           R"(SELECT l.objid::int FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
              WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
                AND l.classid = $1::oid AND l.objid <> $2::oid AND a.application_name = $3)",
           kRelayLockClass, kRelayMemberKey, application)) {
    locked.insert(row[0].as<int>());
  }
  return locked;
}

double OwnedGauge(prometheus::Registry& metrics) {
  for (const auto& family : metrics.Collect()) {
    if (family.name == "relay_partitions_owned") return family.metric.at(0).gauge.value;
  }
  return -1;
}

TEST_F(RelayTest, EveryAdvisoryLockHeldIsAPartitionTheRelayReports) {
  FakeHistory history(FakeHistory::Mode::kAcknowledge);
  constexpr int kRelays = 3;
  std::vector<std::unique_ptr<prometheus::Registry>> metrics;
  std::vector<std::unique_ptr<OutboxRelay>> relays;
  std::vector<std::string> names;
  for (int i = 0; i < kRelays; ++i) {
    names.push_back(absl::StrCat("relay-locks-", i));
    metrics.push_back(std::make_unique<prometheus::Registry>());
    relays.push_back(
        std::make_unique<OutboxRelay>(Options(history.target(), names.back()), *metrics.back()));
    relays.back()->Start();
  }
  // Settled: each relay's session holds exactly the locks of the partitions
  // it reports (gauge and list), the relays together hold all 16, none twice.
  std::string last;
  auto settled = [&](int running) {
    std::set<int> all;
    size_t total = 0;
    last.clear();
    for (int i = 0; i < running; ++i) {
      const std::vector<int> owned = relays[i]->OwnedPartitions();
      const std::set<int> locked = LockedPartitions(url_, names[i]);
      absl::StrAppend(&last, names[i], " reports [", absl::StrJoin(owned, ","), "] gauge ",
                      OwnedGauge(*metrics[i]), ", holds [", absl::StrJoin(locked, ","), "]\n");
      if (std::set<int>(owned.begin(), owned.end()) != locked) return false;
      if (OwnedGauge(*metrics[i]) != static_cast<double>(owned.size())) return false;
      all.insert(owned.begin(), owned.end());
      total += owned.size();
    }
    // A fair share each: at most ceil(16 / relays).
    const size_t share = (kRelayPartitions + running - 1) / running;
    return all.size() == static_cast<size_t>(kRelayPartitions) && total == all.size() &&
           std::all_of(relays.begin(), relays.begin() + running,
                       [&](const auto& r) { return r->OwnedPartitions().size() <= share; });
  };
  ASSERT_TRUE(WaitUntil([&] { return settled(kRelays); }, absl::Seconds(30))) << last;
  // Events of every partition still flow.
  AddEvents(200);
  ASSERT_TRUE(WaitUntil([&] { return Outbox() == 0; }, absl::Seconds(30)));

  // One stops: its locks go, the others take its partitions, and still
  // hold exactly what they report.
  relays.back()->Stop();
  EXPECT_TRUE(relays.back()->OwnedPartitions().empty());
  // (Its backend ends a moment after the connection closes.)
  EXPECT_TRUE(
      WaitUntil([&] { return LockedPartitions(url_, names.back()).empty(); }, absl::Seconds(10)));
  ASSERT_TRUE(WaitUntil([&] { return settled(kRelays - 1); }, absl::Seconds(30))) << last;
  std::printf("[locks] %s", last.c_str());
}

TEST_F(RelayTest, StopIsBoundedByItsGraceWhenHistoryNeverAnswers) {
  FakeHistory history(FakeHistory::Mode::kSilent);
  AddEvents(50);
  prometheus::Registry metrics;
  OutboxRelay relay(Options(history.target(), "relay-silent"), metrics);
  relay.Start();
  ASSERT_TRUE(WaitUntil([&] { return history.batches() >= 1; }, absl::Seconds(30)));

  const absl::Duration grace = absl::Seconds(1);
  const absl::Time start = absl::Now();
  relay.Stop(grace);
  const absl::Duration took = absl::Now() - start;
  EXPECT_LT(took, grace + absl::Seconds(1));
  EXPECT_GE(took, grace);  // the batch in flight was given its grace
  // Nothing was acknowledged: all of it is still in the outbox.
  EXPECT_EQ(Outbox(), 50);
  EXPECT_EQ(QueryCount(url_, R"(SELECT count(*) FROM "BookingOutboxRejected")"), 0);
  std::printf("[stop] history silent: Stop(%s) returned after %s\n",
              absl::FormatDuration(grace).c_str(),
              absl::FormatDuration(absl::Trunc(took, absl::Milliseconds(1))).c_str());
}

TEST_F(RelayTest, StopIsBoundedByItsGraceWhileAStatementIsBlocked) {
  FakeHistory history(FakeHistory::Mode::kAcknowledge);
  AddEvents(20);
  // The outbox locked by another session: the relay's reads wait (up to its
  // 30 s statement timeout).
  pqxx::connection locker(url_);
  pqxx::work lock(locker);
  lock.exec(R"(LOCK TABLE "BookingOutbox" IN ACCESS EXCLUSIVE MODE)");
  prometheus::Registry metrics;
  OutboxRelay relay(Options(history.target(), "relay-blocked"), metrics);
  relay.Start();
  ASSERT_TRUE(WaitUntil(
      [&] {
        return QueryCount(url_, R"(SELECT count(*) FROM pg_stat_activity
                                   WHERE application_name = 'relay-blocked'
                                     AND wait_event_type = 'Lock')") >= 1;
      },
      absl::Seconds(30)));

  const absl::Duration grace = absl::Milliseconds(500);
  const absl::Time start = absl::Now();
  relay.Stop(grace);
  const absl::Duration took = absl::Now() - start;
  EXPECT_LT(took, grace + absl::Seconds(1));
  // Its connections are closed (their backends end a moment later).
  EXPECT_TRUE(WaitUntil(
      [&] {
        return QueryCount(url_, R"(SELECT count(*) FROM pg_stat_activity
                                   WHERE application_name = 'relay-blocked')") == 0;
      },
      absl::Seconds(10)));
  lock.abort();
  EXPECT_EQ(Outbox(), 20);
  EXPECT_TRUE(history.received().empty());
  std::printf("[stop] statement blocked: Stop(%s) returned after %s\n",
              absl::FormatDuration(grace).c_str(),
              absl::FormatDuration(absl::Trunc(took, absl::Milliseconds(1))).c_str());
}

TEST_F(RelayTest, GoawayAfterAcknowledgedBatchesIsReopenedAtOnce) {
  // Connections closed 300 ms after they open (GOAWAY, then 100 ms grace).
  FakeHistory history(FakeHistory::Mode::kAcknowledge, absl::Milliseconds(300));
  prometheus::Registry metrics;
  RelayOptions options = Options(history.target(), "relay-goaway");
  // Any backoff would show: at least 1.5 s.
  options.min_backoff = absl::Seconds(3);
  options.max_backoff = absl::Seconds(5);
  // One stream, so that each round's events open exactly one (the same
  // holds per stream with several).
  options.streams = 1;
  OutboxRelay relay(options, metrics);
  relay.Start();
  int delivered = 0;
  absl::Duration slowest;
  for (int round = 1; round <= 4; ++round) {
    // Until the previous stream's connection is gone...
    ASSERT_TRUE(WaitUntil([&] { return history.streams_ended() >= round - 1; }, absl::Seconds(10)));
    // ... then changes arrive and go on a new stream without a pause.
    const absl::Time start = absl::Now();
    AddEvents(5);
    delivered += 5;
    ASSERT_TRUE(WaitUntil([&] { return static_cast<int>(history.received().size()) == delivered; },
                          absl::Seconds(20)))
        << "round " << round;
    slowest = std::max(slowest, absl::Now() - start);
    EXPECT_EQ(history.streams_opened(), round);
  }
  relay.Stop();
  EXPECT_LT(slowest, absl::Milliseconds(1200));
  EXPECT_EQ(Outbox(), 0);
  std::printf("[goaway] 4 streams closed by connection age; slowest delivery after one: %s\n",
              absl::FormatDuration(absl::Trunc(slowest, absl::Milliseconds(1))).c_str());
}

}  // namespace
}  // namespace booking::testing
