// history-read-bench: GetBookingHistory latency on a history store of
// --bookings x --per-booking rows (default 1,000,000 x 10 = 10M), each
// booking's rows spread over the table as months of changes leave them
// (row k of every booking written before row k+1 of any), random bookings
// asked for by --callers closed-loop callers. The yardstick, in the same run
// and process: the same SELECT sent straight to PostgreSQL over libpq for
// the same bookings, i.e. what the database alone takes. Prints figures;
// not a test.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <random>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/common/die.h"
#include "bench/common/figure.h"
#include "common/config.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "history-service/history_page.h"
#include "history/v1/history.grpc.pb.h"
#include "pqxx/pqxx"
#include "tests/support/pg_cluster.h"
#include "tests/support/read_load.h"
#include "tests/support/service_set.h"

ABSL_FLAG(int, bookings, 1000000, "bookings in the history store");
ABSL_FLAG(int, per_booking, 10, "history rows of each booking");
ABSL_FLAG(int, callers, 1, "concurrent closed-loop callers");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "measured time of each side");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2), "unmeasured calls before each side");

namespace booking::testing {
namespace {

using bench::Die;

using Latencies = std::vector<absl::Duration>;

std::string BookingId(int b) { return absl::StrFormat("bk-%08d", b); }

// Row k of every booking before row k+1 of any: a booking's rows land on
// different pages, as changes days apart do in production.
void Load(const std::string& url, int bookings, int per_booking) {
  pqxx::connection conn(url);
  const std::vector<std::string> rebuild = DropHistoryIndexes(conn);
  for (int s = 1; s <= per_booking; ++s) {
    const absl::Time start = absl::Now();
    pqxx::work txn(conn);
    txn.exec_params(R"(
      INSERT INTO "BookingStatusHistory"
        ("eventId", "bookingId", sequence, "fromStatus", "toStatus", "changedBy", reason,
         metadata, "createdAt", "rowHash")
      SELECT gen_random_uuid(), 'bk-' || lpad(b::text, 8, '0'), $1::bigint,
             CASE WHEN $1::int = 1 THEN NULL WHEN $1::int % 2 = 0 THEN 'CONFIRMED' ELSE 'PICKUP_ASSIGNED' END,
             CASE WHEN $1::int % 2 = 0 THEN 'PICKUP_ASSIGNED' ELSE 'CONFIRMED' END,
             'dispatcher@ops', 'driver reassigned after a call',
             jsonb_build_object('driver', 'd-' || (b % 100), 'region', 'north'),
             timestamp '2026-01-01' + make_interval(hours => $1::int, secs => b),
             sha256(convert_to(b::text || ':' || $1::int, 'UTF8'))
      FROM generate_series(1, $2) AS b)",
                    s, bookings);
    txn.commit();
    std::printf("  loaded sequence %d of %d for %d bookings in %.1f s\n", s, per_booking, bookings,
                absl::ToDoubleSeconds(absl::Now() - start));
    std::fflush(stdout);
  }
  const absl::Time start = absl::Now();
  pqxx::nontransaction txn(conn);
  txn.exec("SET maintenance_work_mem = '512MB'");
  for (const std::string& statement : rebuild) txn.exec(statement);
  txn.exec(R"(VACUUM ANALYZE "BookingStatusHistory")");
  std::printf("  %zu indexes built again in %.1f s\n", rebuild.size(),
              absl::ToDoubleSeconds(absl::Now() - start));
}

// Runs `callers` threads, each calling `one(caller, rng)` in a loop for warmup then
// duration; returns the latencies of the measured calls.
template <typename Call>
Latencies Drive(int callers, const Call& one) {
  const absl::Duration warmup = absl::GetFlag(FLAGS_warmup);
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  std::vector<Latencies> each(callers);
  std::vector<std::thread> threads;
  for (int c = 0; c < callers; ++c) {
    threads.emplace_back([&, c] {
      std::mt19937 rng(1000 + c);
      const absl::Time measure_from = absl::Now() + warmup;
      const absl::Time end = measure_from + duration;
      for (absl::Time now = absl::Now(); now < end; now = absl::Now()) {
        one(c, rng);
        if (now >= measure_from) each[c].push_back(absl::Now() - now);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  Latencies all;
  for (const Latencies& l : each) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  return all;
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

// GetBookingHistory through history-service; every answer checked whole.
Latencies ThroughService(const std::string& target, int bookings, int per_booking) {
  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto stub = history::v1::HistoryService::NewStub(channel);
  std::atomic<int64_t> wrong{0};
  Latencies l = Drive(absl::GetFlag(FLAGS_callers), [&](int, std::mt19937& rng) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", absl::StrCat("Bearer ", ServiceSet::kToken));
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    history::v1::GetBookingHistoryRequest request;
    request.set_booking_id(BookingId(1 + static_cast<int>(rng() % bookings)));
    history::v1::GetBookingHistoryResponse response;
    grpc::Status s = stub->GetBookingHistory(&context, request, &response);
    if (!s.ok() || response.entries_size() != per_booking) ++wrong;
  });
  if (wrong > 0) Die(absl::StrCat(wrong.load(), " GetBookingHistory calls failed or were short"));
  return l;
}

// grpc.health.v1.Health/Check on the same port: what a unary call through
// this server and channel costs with no work behind it.
Latencies GrpcFloor(const std::string& target) {
  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  return Drive(absl::GetFlag(FLAGS_callers), [&](int, std::mt19937&) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    if (!stub->Check(&context, request, &response).ok()) Die("health check failed");
  });
}

// history-service's own page query, prepared, outside a transaction: the
// database's share of a call.
Latencies StraightToDatabase(const std::string& url, int bookings, int per_booking) {
  std::vector<std::unique_ptr<pqxx::connection>> conns;
  for (int c = 0; c < absl::GetFlag(FLAGS_callers); ++c) {
    conns.push_back(std::make_unique<pqxx::connection>(url));
    conns.back()->prepare("page", HistoryPageQuery());
  }
  std::atomic<int64_t> wrong{0};
  Latencies l = Drive(absl::GetFlag(FLAGS_callers), [&](int caller, std::mt19937& rng) {
    pqxx::nontransaction txn(*conns[caller]);
    pqxx::result r = txn.exec_prepared("page", BookingId(1 + static_cast<int>(rng() % bookings)), 0,
                                       51, 1 << 20);
    if (static_cast<int>(r.size()) != per_booking) ++wrong;
  });
  if (wrong > 0) Die(absl::StrCat(wrong.load(), " direct queries returned short pages"));
  return l;
}

// "10M", "200k", "2000".
std::string RowsLabel(int64_t rows) {
  if (rows >= 1000000) return absl::StrCat(rows / 1000000, "M");
  if (rows >= 1000) return absl::StrCat(rows / 1000, "k");
  return absl::StrCat(rows);
}

void Report(const std::string& who, const Latencies& l) {
  const double seconds = absl::ToDoubleSeconds(absl::GetFlag(FLAGS_duration));
  std::printf("%-44s %8zu calls %8.0f/s  p50 %6.2f ms  p99 %6.2f ms  max %7.2f ms\n", who.c_str(),
              l.size(), l.size() / seconds, Ms(Quantile(l, 0.5)), Ms(Quantile(l, 0.99)),
              Ms(l.empty() ? absl::ZeroDuration() : l.back()));
}

int Main() {
  const int bookings = absl::GetFlag(FLAGS_bookings);
  const int per_booking = absl::GetFlag(FLAGS_per_booking);
  const int callers = absl::GetFlag(FLAGS_callers);
  auto pg = PgCluster::Start();
  if (!pg.ok()) Die(absl::StrCat("PostgreSQL: ", pg.status().ToString()));
  auto set = ServiceSet::Create(**pg, "read");
  if (!set.ok()) Die(absl::StrCat("stores: ", set.status().ToString()));
  std::printf("history-read-bench: %d bookings x %d rows = %lld history rows\n", bookings,
              per_booking, static_cast<long long>(bookings) * per_booking);
  const absl::Time load_start = absl::Now();
  Load((*set)->history_url(), bookings, per_booking);
  std::printf("loaded in %.0f s\n", absl::ToDoubleSeconds(absl::Now() - load_start));
  // Every caller is one principal: let all of them read at once.
  if (absl::Status s = (*set)->StartHistory({"--max-reads-per-caller", absl::StrCat(callers)});
      !s.ok()) {
    Die(s.ToString());
  }

  const Latencies db = StraightToDatabase((*set)->history_url(), bookings, per_booking);
  const Latencies floor = GrpcFloor((*set)->history_target());
  const Latencies ours = ThroughService((*set)->history_target(), bookings, per_booking);
  std::printf("\n%d closed-loop caller(s), random bookings, %s each after %s warm-up\n", callers,
              absl::FormatDuration(absl::GetFlag(FLAGS_duration)).c_str(),
              absl::FormatDuration(absl::GetFlag(FLAGS_warmup)).c_str());
  Report("the same SELECT straight to PostgreSQL", db);
  Report("grpc.health.v1.Health/Check, same server", floor);
  Report("GetBookingHistory through history-service", ours);
  const double p99 = Ms(Quantile(ours, 0.99));
  bench::PrintFigure(
      {.name = absl::StrFormat("GetBookingHistory p99, %s history rows, %d caller(s)",
                               RowsLabel(static_cast<int64_t>(bookings) * per_booking), callers),
       .ours = absl::StrFormat("%.2f ms (p50 %.2f)", p99, Ms(Quantile(ours, 0.5))),
       .yardstick = absl::StrFormat("%.2f ms (its SELECT over libpq)", Ms(Quantile(db, 0.99))),
       .ratio = absl::StrFormat("%.2fx", p99 / std::max(0.001, Ms(Quantile(db, 0.99)))),
       .target = "<= 5 ms",
       .met = p99 <= 5.0});
  return 0;
}

}  // namespace
}  // namespace booking::testing

int main(int argc, char** argv) {
  booking::ParseFlags(
      argc, argv,
      "history-read-bench [--bookings N] [--per-booking K] [--callers C] [--duration 10s]: "
      "GetBookingHistory latency on a store of N x K rows against the same SELECT over libpq");
  return booking::bench::RunBench("history-read-bench", booking::testing::Main);
}
