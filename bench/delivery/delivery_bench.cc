// delivery-bench: how fast the outbox drains into history, against COPY of the
// same rows into the same table in the same run; the history lag (booking
// commit to history row) under a steady load; and booking call latency while
// history-service is stalled. Prints figures; not a test.
//
// The real binaries and two real PostgreSQL 15 servers (booking store and
// history store apart, as deployed), started by the test harness.
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "pqxx/pqxx"
#include "tests/support/pg_cluster.h"
#include "tests/support/process.h"
#include "tests/support/service_set.h"
#include "tests/support/status_load.h"

ABSL_FLAG(int, events, 500000, "outbox backlog to drain");
ABSL_FLAG(int, replicas, 1, "booking-service replicas relaying the backlog");
ABSL_FLAG(int, relay_batch_size, 500, "booking-service --relay-batch-size");
ABSL_FLAG(int, threads, 4, "client threads of the steady load");
ABSL_FLAG(absl::Duration, load, absl::Seconds(20), "length of the steady load");
ABSL_FLAG(absl::Duration, stall, absl::Seconds(5), "how long history-service is stopped");

namespace booking::testing {
namespace {

constexpr char kColumns[] =
    R"("eventId", "bookingId", sequence, "fromStatus", "toStatus", "changedBy", reason, metadata, "createdAt")";

int64_t Count(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  return txn.exec(sql)[0][0].as<int64_t>();
}

void Die(const std::string& what) {
  std::fprintf(stderr, "delivery-bench: %s\n", what.c_str());
  std::exit(1);
}

void Check(const absl::Status& s, const std::string& what) {
  if (!s.ok()) Die(absl::StrCat(what, ": ", s.ToString()));
}

std::string Psql() { return "/usr/lib/postgresql/15/bin/psql"; }

// p-quantile of `v` (sorted here).
absl::Duration Quantile(std::vector<absl::Duration> v, double p) {
  if (v.empty()) return absl::ZeroDuration();
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

std::string Ms(absl::Duration d) {
  return absl::StrFormat("%.1f ms", absl::ToDoubleMilliseconds(d));
}

int Main() {
  const int events = absl::GetFlag(FLAGS_events);
  auto booking_pg = PgCluster::Start();
  Check(booking_pg.status(), "booking PostgreSQL");
  auto history_pg = PgCluster::Start();
  Check(history_pg.status(), "history PostgreSQL");
  auto created = ServiceSet::Create(**booking_pg, **history_pg, "bench");
  Check(created.status(), "stores");
  ServiceSet& s = **created;
  std::printf("delivery-bench: booking store and history store on two PostgreSQL 15 servers\n");

  // --- 1. A backlog of `events` events, drained by the relay.
  absl::Time t = absl::Now();
  {
    pqxx::connection conn(s.booking_url());
    pqxx::work txn(conn);
    // 50,000 bookings, each with its events in sequence order (ids ascend
    // with the sequence, as the service writes them).
    txn.exec_params(R"(
      INSERT INTO "BookingOutbox"
        ("bookingId", sequence, "fromStatus", "toStatus", "changedBy", reason, metadata)
      SELECT 'bench-' || ((g - 1) % 50000), (g - 1) / 50000 + 1,
             CASE WHEN (g - 1) / 50000 = 0 THEN NULL
                  WHEN ((g - 1) / 50000) % 2 = 1 THEN 'CONFIRMED' ELSE 'PICKUP_ASSIGNED' END,
             CASE WHEN ((g - 1) / 50000) % 2 = 1 THEN 'PICKUP_ASSIGNED' ELSE 'CONFIRMED' END,
             'bench@dispatch', 'benchmark backlog',
             jsonb_build_object('driver', 'd-' || (g % 100))
      FROM generate_series(1, $1) AS g)",
                    events);
    txn.commit();
  }
  std::printf("backlog: %d outbox events written in %s\n", events, Ms(absl::Now() - t).c_str());
  Check(s.StartHistory(), "history-service");
  const absl::Time drain_start = absl::Now();
  for (int r = 0; r < absl::GetFlag(FLAGS_replicas); ++r) {
    Check(s.StartBookingReplica(
              r, {"--relay-batch-size", absl::StrCat(absl::GetFlag(FLAGS_relay_batch_size))}),
          "booking-service");
  }
  while (Count(s.booking_url(), R"(SELECT count(*) FROM "BookingOutbox")") > 0) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  const absl::Duration drain = absl::Now() - drain_start;
  const int64_t stored = Count(s.history_url(), R"(SELECT count(*) FROM "BookingStatusHistory")");
  if (stored != events) Die(absl::StrCat("history holds ", stored, " rows, not ", events));
  const double relay_rate = events / absl::ToDoubleSeconds(drain);
  std::printf(
      "relay drain: %d events into history in %.2f s = %.0f events/s (%d replica(s), "
      "from booking-service start to an empty outbox)\n",
      events, absl::ToDoubleSeconds(drain), relay_rate, absl::GetFlag(FLAGS_replicas));

  // --- 2. COPY of the same rows into the same table (a fresh history store
  // on the same server, same schema, indexes and triggers).
  auto copy_db = (*history_pg)->CreateDatabase("bench_copy");
  Check(copy_db.status(), "copy database");
  const std::string log = absl::StrCat((*history_pg)->dir(), "/bench_copy.log");
  absl::StatusOr<int> rc = RunCommand({MigratorBin(), "up", "--store", "history"},
                                      {absl::StrCat("HISTORY_DATABASE_URL=", *copy_db)}, log);
  if (!rc.ok() || *rc != 0) Die("migrator up on the copy database failed; see " + log);
  const std::string rows_file = absl::StrCat((*history_pg)->dir(), "/rows.copy");
  rc = RunCommand({Psql(), s.history_url(), "-qc",
                   absl::StrCat(R"(\copy (SELECT )", kColumns,
                                R"( FROM "BookingStatusHistory") TO ')", rows_file, "'")},
                  {}, log);
  if (!rc.ok() || *rc != 0) Die("psql \\copy out failed; see " + log);
  t = absl::Now();
  rc = RunCommand(
      {Psql(), *copy_db, "-qc",
       absl::StrCat(R"(\copy "BookingStatusHistory" ()", kColumns, ") FROM '", rows_file, "'")},
      {}, log);
  const absl::Duration copy = absl::Now() - t;
  if (!rc.ok() || *rc != 0) Die("psql \\copy in failed; see " + log);
  const double copy_rate = events / absl::ToDoubleSeconds(copy);
  std::printf(
      "COPY:        %d rows into a fresh \"BookingStatusHistory\" in %.2f s = %.0f rows/s "
      "(psql \\copy FROM, same server, same schema)\n",
      events, absl::ToDoubleSeconds(copy), copy_rate);
  std::printf("ratio:       relay drain runs at %.0f%% of COPY (COPY is %.1fx faster)\n",
              100 * relay_rate / copy_rate, copy_rate / relay_rate);

  // --- 3. Steady load: history lag (booking commit to history row).
  const int threads = absl::GetFlag(FLAGS_threads);
  auto load = StatusLoad::Start({.target = s.booking_targets(),
                                 .token = ServiceSet::kToken,
                                 .booking_prefix = "lag",
                                 .threads = threads,
                                 .bookings_per_thread = 4});
  Check(load.status(), "load");
  absl::SleepFor(absl::GetFlag(FLAGS_load));
  (*load)->Stop();
  while (Count(s.booking_url(), R"(SELECT count(*) FROM "BookingOutbox")") > 0) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  {
    pqxx::connection conn(s.history_url());
    pqxx::nontransaction txn(conn);
    // "createdAt": the booking transaction's time (the event's change_time);
    // "recordedAt": the history transaction's. Millisecond precision.
    pqxx::result lag = txn.exec(R"(
      SELECT count(*),
             percentile_cont(0.5) WITHIN GROUP (ORDER BY lag_ms),
             percentile_cont(0.99) WITHIN GROUP (ORDER BY lag_ms),
             max(lag_ms)
      FROM (SELECT extract(epoch from "recordedAt" - "createdAt") * 1000 AS lag_ms
            FROM "BookingStatusHistory" WHERE "bookingId" LIKE 'lag-%') AS l)");
    const std::vector<absl::Duration> calls = (*load)->latencies();
    std::printf(
        "steady load: %d client threads for %s: %lld changes (%.0f/s), %lld failed calls; "
        "booking call latency p50 %s, p99 %s\n",
        threads, absl::FormatDuration(absl::GetFlag(FLAGS_load)).c_str(),
        static_cast<long long>((*load)->acked_count()),
        (*load)->acked_count() / absl::ToDoubleSeconds(absl::GetFlag(FLAGS_load)),
        static_cast<long long>((*load)->failed_calls()), Ms(Quantile(calls, 0.5)).c_str(),
        Ms(Quantile(calls, 0.99)).c_str());
    std::printf(
        "history lag: %lld events: p50 %.1f ms, p99 %.1f ms, max %.1f ms "
        "(history \"recordedAt\" - booking commit time)\n",
        lag[0][0].as<long long>(), lag[0][1].as<double>(), lag[0][2].as<double>(),
        lag[0][3].as<double>());
  }

  // --- 4. history-service stalled (SIGSTOP): booking calls do not wait for it.
  s.SignalHistory(SIGSTOP);
  auto stalled = StatusLoad::Start({.target = s.booking_targets(),
                                    .token = ServiceSet::kToken,
                                    .booking_prefix = "stall",
                                    .threads = threads,
                                    .bookings_per_thread = 4});
  Check(stalled.status(), "load");
  absl::SleepFor(absl::GetFlag(FLAGS_stall));
  (*stalled)->Stop();
  const int64_t waiting = Count(s.booking_url(), R"(SELECT count(*) FROM "BookingOutbox")");
  const absl::StatusOr<double> gauge =
      ScrapeMetric(s.booking_metrics_target(0), "relay_outbox_backlog");
  s.SignalHistory(SIGCONT);
  const std::vector<absl::Duration> calls = (*stalled)->latencies();
  std::printf(
      "history-service stopped for %s under the same load: %lld changes (%.0f/s), "
      "booking call latency p50 %s, p99 %s; %lld events waiting in the outbox "
      "(gauge relay_outbox_backlog said %.0f)\n",
      absl::FormatDuration(absl::GetFlag(FLAGS_stall)).c_str(),
      static_cast<long long>((*stalled)->acked_count()),
      (*stalled)->acked_count() / absl::ToDoubleSeconds(absl::GetFlag(FLAGS_stall)),
      Ms(Quantile(calls, 0.5)).c_str(), Ms(Quantile(calls, 0.99)).c_str(),
      static_cast<long long>(waiting), gauge.value_or(-1));
  const absl::Time resumed = absl::Now();
  while (Count(s.booking_url(), R"(SELECT count(*) FROM "BookingOutbox")") > 0) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  std::printf("after SIGCONT the outbox drained in %s\n", Ms(absl::Now() - resumed).c_str());
  return 0;
}

}  // namespace
}  // namespace booking::testing

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "delivery-bench [--events N] [--replicas R] [--threads T] [--load 20s] [--stall 5s]: "
      "outbox drain vs COPY, history lag under load, booking latency with history stalled");
  absl::ParseCommandLine(argc, argv);
  return booking::testing::Main();
}
