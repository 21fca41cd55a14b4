// delivery-bench: how fast an outbox backlog drains into history through
// booking-service's relay and history-service's Ingest (every consistency
// check, the hash chain, checkpoints), against COPY of the same rows into a
// fresh history table on the same server in the same run; then the history
// lag through a history-service outage under a steady load, plotted
// (outage.h). Prints figures (bench/common/figure.h); not a test.
//
// The real binaries and two real PostgreSQL 15 servers (booking store and
// history store apart, as deployed), started by the test harness.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "bench/common/figure.h"
#include "bench/delivery/bench_support.h"
#include "bench/delivery/outage.h"
#include "bench/delivery/streams.h"
#include "common/config.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/process.h"

ABSL_FLAG(int, events, 500000, "outbox backlog to drain");
ABSL_FLAG(int, replicas, 1, "booking-service replicas relaying the backlog");
ABSL_FLAG(int, relay_batch_size, 500, "booking-service --relay-batch-size");
ABSL_FLAG(int, ingest_streams, 0, "booking-service --ingest-streams (0: its default)");
ABSL_FLAG(bool, drain, true, "measure the backlog drain against COPY");
ABSL_FLAG(bool, outage, true, "run the outage and plot the history lag");
ABSL_FLAG(int, threads, 4, "client threads of the steady load in the outage run");
ABSL_FLAG(absl::Duration, pause, absl::Milliseconds(10), "between a client thread's changes");
ABSL_FLAG(absl::Duration, before, absl::Seconds(5), "steady load before the outage");
ABSL_FLAG(absl::Duration, down, absl::Seconds(5), "how long history-service is down");
ABSL_FLAG(absl::Duration, after, absl::Seconds(15), "steady load after it is back");
ABSL_FLAG(bool, kill, true, "SIGKILL and restart history-service; false: SIGSTOP and SIGCONT");
ABSL_FLAG(std::string, plot_dir, "build/bench-plots", "where the plot (SVG, PNG, .dat) goes");
ABSL_FLAG(int, streams, 4,
          "concurrent Ingest streams straight into history-service, against one (0: skip)");
ABSL_FLAG(bool, profile, false,
          "pg_stat_statements on both servers; the drain's top statements printed");

namespace booking::testing {
namespace {

constexpr char kColumns[] =
    R"("eventId", "bookingId", sequence, "fromStatus", "toStatus", "changedBy", reason, metadata, "createdAt", "rowHash")";
constexpr char kPsql[] = "/usr/lib/postgresql/15/bin/psql";

void WriteBacklog(const ServiceSet& s, int events) {
  const absl::Time t = absl::Now();
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
  std::printf("backlog: %d outbox events written in %.2f s\n", events,
              absl::ToDoubleSeconds(absl::Now() - t));
}

void ProfileStart(const std::vector<std::string>& urls) {
  for (const std::string& url : urls) {
    pqxx::connection conn(url);
    pqxx::nontransaction txn(conn);
    txn.exec("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    txn.exec("SELECT pg_stat_statements_reset()");
  }
}

void ProfilePrint(const std::string& name, const std::string& url) {
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  std::printf("profile, %s store (pg_stat_statements, by total time):\n", name.c_str());
  for (const pqxx::row& r : txn.exec(R"(
      SELECT calls, total_exec_time, total_exec_time / calls, rows,
             left(regexp_replace(query, '\s+', ' ', 'g'), 110)
      FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 8)")) {
    std::printf("  %6lld calls %8.0f ms %7.2f ms/call %8lld rows  %s\n", r[0].as<long long>(),
                r[1].as<double>(), r[2].as<double>(), r[3].as<long long>(), r[4].c_str());
  }
}

// booking-service's flags for the drain and the outage run.
std::vector<std::string> BookingFlags() {
  std::vector<std::string> flags = {"--relay-batch-size",
                                    absl::StrCat(absl::GetFlag(FLAGS_relay_batch_size))};
  if (absl::GetFlag(FLAGS_ingest_streams) > 0) {
    flags.insert(flags.end(),
                 {"--ingest-streams", absl::StrCat(absl::GetFlag(FLAGS_ingest_streams))});
  }
  return flags;
}

// Seconds from booking-service's start until its relay acknowledged all.
double Drain(ServiceSet& s, int events) {
  const int replicas = absl::GetFlag(FLAGS_replicas);
  const absl::Time start = absl::Now();
  for (int r = 0; r < replicas; ++r) {
    Check(s.StartBookingReplica(r, BookingFlags()), "booking-service");
  }
  WaitAcked(s, replicas, events);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const int64_t stored = Count(s.history_url(), R"(SELECT count(*) FROM "BookingStatusHistory")");
  if (stored != events) Die(absl::StrCat("history holds ", stored, " rows, not ", events));
  if (Count(s.booking_url(), R"(SELECT count(*) FROM "BookingOutbox")") != 0) {
    Die("acknowledged, yet the outbox is not empty");
  }
  const int n = absl::GetFlag(FLAGS_ingest_streams);
  const std::string streams = n > 0 ? absl::StrCat(n) : "default";
  std::printf(
      "relay drain: %d events into history in %.2f s = %s events/s (%d replica(s), batch size "
      "%d, ingest streams %s, from booking-service start until the relay acknowledged the "
      "last)\n",
      events, seconds, Thousands(events / seconds).c_str(), replicas,
      absl::GetFlag(FLAGS_relay_batch_size), streams.c_str());
  return seconds;
}

// Seconds COPY takes to load the drained rows into a fresh history store
// (same server, schema, indexes and triggers; the rows' chain hashes too).
double Copy(PgCluster& history_pg, const ServiceSet& s, int events) {
  auto copy_db = history_pg.CreateDatabase("bench_copy");
  Check(copy_db.status(), "copy database");
  const std::string log = absl::StrCat(history_pg.dir(), "/bench_copy.log");
  absl::StatusOr<int> rc = RunCommand({MigratorBin(), "up", "--store", "history"},
                                      {absl::StrCat("HISTORY_DATABASE_URL=", *copy_db)}, log);
  if (!rc.ok() || *rc != 0) Die("migrator up on the copy database failed; see " + log);
  const std::string rows = absl::StrCat(history_pg.dir(), "/rows.copy");
  rc = RunCommand({kPsql, s.history_url(), "-qc",
                   absl::StrCat(R"(\copy (SELECT )", kColumns,
                                R"( FROM "BookingStatusHistory") TO ')", rows, "'")},
                  {}, log);
  if (!rc.ok() || *rc != 0) Die("psql \\copy out failed; see " + log);
  const absl::Time t = absl::Now();
  rc = RunCommand(
      {kPsql, *copy_db, "-qc",
       absl::StrCat(R"(\copy "BookingStatusHistory" ()", kColumns, ") FROM '", rows, "'")},
      {}, log);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - t);
  if (!rc.ok() || *rc != 0) Die("psql \\copy in failed; see " + log);
  std::printf(
      "COPY:        %d rows into a fresh \"BookingStatusHistory\" in %.2f s = %s rows/s "
      "(psql \\copy FROM, same server, same schema)\n",
      events, seconds, Thousands(events / seconds).c_str());
  return seconds;
}

void DrainFigure(PgCluster& history_pg, ServiceSet& s) {
  const int events = absl::GetFlag(FLAGS_events);
  WriteBacklog(s, events);
  if (absl::GetFlag(FLAGS_profile)) ProfileStart({s.booking_url(), s.history_url()});
  const double relay = events / Drain(s, events);
  if (absl::GetFlag(FLAGS_profile)) {
    ProfilePrint("history", s.history_url());
    ProfilePrint("booking", s.booking_url());
  }
  const double copy = events / Copy(history_pg, s, events);
  const double ratio = relay / copy;
  bench::PrintFigure({.name = absl::StrCat("backlog drain events/s (", Thousands(events),
                                           " events) vs COPY of the same rows"),
                      .ours = absl::StrCat(Thousands(relay), " events/s"),
                      .yardstick = absl::StrCat(Thousands(copy), " rows/s (COPY)"),
                      .ratio = absl::StrFormat("%.2fx", ratio),
                      .target = ">= 0.6x",
                      .met = ratio >= 0.6});
}

void OutageFigure(ServiceSet& s) {
  const OutageResult r = RunOutage(s, {.threads = absl::GetFlag(FLAGS_threads),
                                       .pause = absl::GetFlag(FLAGS_pause),
                                       .before = absl::GetFlag(FLAGS_before),
                                       .outage = absl::GetFlag(FLAGS_down),
                                       .after = absl::GetFlag(FLAGS_after),
                                       .kill = absl::GetFlag(FLAGS_kill),
                                       .plot_dir = absl::GetFlag(FLAGS_plot_dir)});
  bench::PrintFigure(
      {.name =
           absl::StrCat("history lag through a ", absl::FormatDuration(absl::GetFlag(FLAGS_down)),
                        " history-service outage (plot)"),
       .ours = absl::StrFormat("p99 %.0f ms before, max %.1f s, steady %.1f s after restart",
                               r.steady_p99_ms, r.max_lag_ms / 1000, r.recovered_after_s),
       .yardstick = "-",
       .ratio = "-",
       .target = absl::StrCat("lag drains after the outage; plot ", r.png),
       .met = r.recovered_after_s >= 0});
}

void StreamsFigure(const ServiceSet& s) {
  const int streams = absl::GetFlag(FLAGS_streams);
  const StreamsResult r =
      RunStreams(s, {.streams = streams, .profile = absl::GetFlag(FLAGS_profile)});
  const double ratio = r.many_streams_events_per_s / r.one_stream_events_per_s;
  bench::PrintFigure(
      {.name = absl::StrCat(streams, " concurrent Ingest streams vs one (batches of 30)"),
       .ours = absl::StrCat(Thousands(r.many_streams_events_per_s), " events/s"),
       .yardstick = absl::StrCat(Thousands(r.one_stream_events_per_s), " events/s (one stream)"),
       .ratio = absl::StrFormat("%.2fx", ratio),
       .target = "> 1x (stored in parallel)",
       .met = ratio > 1});
}

int Main() {
  if (absl::GetFlag(FLAGS_profile)) {
    // Read by the harness when it starts the servers.
    setenv("PG_EXTRA_OPTS", "-c shared_preload_libraries=pg_stat_statements", 1);
  }
  auto booking_pg = PgCluster::Start();
  Check(booking_pg.status(), "booking PostgreSQL");
  auto history_pg = PgCluster::Start();
  Check(history_pg.status(), "history PostgreSQL");
  auto created = ServiceSet::Create(**booking_pg, **history_pg, "bench");
  Check(created.status(), "stores");
  ServiceSet& s = **created;
  std::printf("delivery-bench: booking store and history store on two PostgreSQL 15 servers\n");
  Check(s.StartHistory(), "history-service");
  if (absl::GetFlag(FLAGS_drain)) {
    DrainFigure(**history_pg, s);
  } else {
    Check(s.StartBooking(BookingFlags()), "booking-service");
  }
  if (absl::GetFlag(FLAGS_outage)) OutageFigure(s);
  if (absl::GetFlag(FLAGS_streams) > 0) StreamsFigure(s);
  return 0;
}

}  // namespace
}  // namespace booking::testing

int main(int argc, char** argv) {
  booking::ParseFlags(
      argc, argv,
      "delivery-bench [--events N] [--replicas R] [--relay_batch_size B] [--ingest_streams S] "
      "[--drain=false] "
      "[--outage=false] [--threads T] [--before 5s] [--down 5s] [--after 15s] [--kill=false] "
      "[--plot_dir DIR] [--streams N] [--profile]: outbox drain vs COPY; history lag through an "
      "outage, plotted; N concurrent Ingest streams against one");
  return booking::bench::RunBench("delivery-bench", booking::testing::Main);
}
