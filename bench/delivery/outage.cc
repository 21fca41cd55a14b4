#include "bench/delivery/outage.h"

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <vector>

#include "absl/strings/str_format.h"
#include "bench/delivery/bench_support.h"
#include "tests/support/process.h"
#include "tests/support/status_load.h"

namespace booking::testing {
namespace {

constexpr char kPrefix[] = "outage";
constexpr double kTickMs = 100;

// Unix milliseconds of the run's moments, as the stores' clocks (same host) say.
struct Timeline {
  double load_start = 0, down = 0, up = 0, load_end = 0;
};

double NowMs() { return static_cast<double>(absl::ToUnixMillis(absl::Now())); }

struct Event {
  double committed_ms;  // the event's "createdAt": its booking transaction's time
  double stored_ms;     // its history row's "recordedAt"
};

Timeline RunLoad(ServiceSet& s, const OutageOptions& o) {
  Timeline t;
  auto load = StatusLoad::Start({.target = s.booking_targets(),
                                 .token = ServiceSet::kToken,
                                 .booking_prefix = kPrefix,
                                 .threads = o.threads,
                                 .bookings_per_thread = 4,
                                 .pause = o.pause});
  Check(load.status(), "load");
  t.load_start = NowMs();
  absl::SleepFor(o.before);
  t.down = NowMs();
  if (o.kill) {
    Check(s.StopHistory(SIGKILL).status(), "SIGKILL history-service");
  } else {
    s.SignalHistory(SIGSTOP);
  }
  absl::SleepFor(o.outage);
  if (o.kill) {
    Check(s.StartHistory(), "history-service restart");
  } else {
    s.SignalHistory(SIGCONT);
  }
  t.up = NowMs();
  absl::SleepFor(o.after);
  (*load)->Stop();
  t.load_end = NowMs();
  std::printf(
      "outage run: %d client threads, %lld changes acknowledged (%lld failed calls) while "
      "history-service was %s for %s\n",
      o.threads, static_cast<long long>((*load)->acked_count()),
      static_cast<long long>((*load)->failed_calls()), o.kill ? "killed" : "stopped",
      absl::FormatDuration(absl::Milliseconds(t.up - t.down)).c_str());
  return t;
}

std::vector<Event> ReadEvents(const ServiceSet& s) {
  while (Count(s.booking_url(), R"(SELECT count(*) FROM "BookingOutbox")") > 0) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  pqxx::connection conn(s.history_url());
  pqxx::nontransaction txn(conn);
  std::vector<Event> events;
  for (const pqxx::row& row : txn.exec(absl::StrCat(
           R"(SELECT extract(epoch from "createdAt") * 1000, extract(epoch from "recordedAt") * 1000
              FROM "BookingStatusHistory" WHERE "bookingId" LIKE ')",
           kPrefix, "-%' ORDER BY 1"))) {
    events.push_back({row[0].as<double>(), row[1].as<double>()});
  }
  return events;
}

// The age of the oldest event committed by `at` and not yet in history.
double OldestAge(const std::vector<Event>& events, double at) {
  double oldest = at;
  for (const Event& e : events) {
    if (e.committed_ms > at) break;  // sorted by commit time
    if (e.stored_ms > at) oldest = std::min(oldest, e.committed_ms);
  }
  return at - oldest;
}

double Quantile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

// Writes the two series; fills the result's lag figures.
void WriteSeries(const std::vector<Event>& events, const Timeline& t, const std::string& dir,
                 OutageResult& r) {
  std::ofstream lags(dir + "/delivery-outage-events.dat");
  lags << "# seconds since load start (commit)\thistory lag ms\n";
  std::vector<double> steady;
  for (const Event& e : events) {
    const double lag = e.stored_ms - e.committed_ms;
    lags << absl::StrFormat("%.3f\t%.1f\n", (e.committed_ms - t.load_start) / 1000, lag);
    r.max_lag_ms = std::max(r.max_lag_ms, lag);
    if (e.stored_ms < t.down) steady.push_back(lag);  // delivered before the outage
  }
  r.steady_p99_ms = Quantile(steady, 0.99);
  std::ofstream oldest(dir + "/delivery-outage-oldest.dat");
  oldest << "# seconds since load start\tage of the oldest undelivered event ms\n";
  double steady_max = 0;
  for (double at = t.load_start; at <= t.load_end; at += kTickMs) {
    const double age = OldestAge(events, at);
    oldest << absl::StrFormat("%.3f\t%.1f\n", (at - t.load_start) / 1000, age);
    if (at < t.down) steady_max = std::max(steady_max, age);
    // Recovered: the backlog of the outage is delivered, the age as low as
    // before the outage.
    const bool calm = age <= std::max(2 * steady_max, 100.0);
    if (at >= t.up && calm && r.recovered_after_s < 0) r.recovered_after_s = (at - t.up) / 1000;
  }
}

std::string Script(const Timeline& t, const OutageOptions& o, const std::string& dir,
                   const std::string& terminal, const std::string& file) {
  const double down = (t.down - t.load_start) / 1000, up = (t.up - t.load_start) / 1000;
  return absl::StrFormat(
      R"gp(set terminal %s size 1100,560 font "DejaVu Sans,11"
set output '%s/%s'
set title "History lag through a history-service outage (%s after %.1f s), %d client threads"
set xlabel "time since the load started (s)"
set ylabel "history lag (ms, log scale)"
set logscale y
set yrange [1:*]
set grid ytics xtics
set key below
set object 1 rect from %.3f, graph 0 to %.3f, graph 1 fc rgb "#f4c7c3" fs solid 0.6 noborder behind
set label 1 "history-service down" at %.3f, graph 0.5 offset 0.5,0 front
plot '%s/delivery-outage-oldest.dat' using 1:($2 < 1 ? 1 : $2) with lines lw 2 lc rgb "#1f5fbf" \
       title "age of the oldest event not yet in history", \
     '%s/delivery-outage-events.dat' using 1:($2 < 1 ? 1 : $2) with points pt 7 ps 0.25 \
       lc rgb "#e08a00" title "lag of each event (booking commit to history row), at its commit"
)gp",
      terminal, dir, file, o.kill ? "SIGKILL, restarted" : "SIGSTOP, continued",
      (t.up - t.down) / 1000, o.threads, down, up, down, dir, dir);
}

std::string Plot(const Timeline& t, const OutageOptions& o, const std::string& dir) {
  const std::string script_path = dir + "/delivery-outage.gp";
  {
    std::ofstream script(script_path);
    script << Script(t, o, dir, "svg dynamic", "delivery-outage.svg")
           << Script(t, o, dir, "pngcairo", "delivery-outage.png");
  }
  absl::StatusOr<int> rc = RunCommand({"/usr/bin/gnuplot", script_path}, {}, dir + "/gnuplot.log");
  if (!rc.ok() || *rc != 0) Die("gnuplot failed; see " + dir + "/gnuplot.log");
  return dir + "/delivery-outage.png";
}

}  // namespace

OutageResult RunOutage(ServiceSet& s, const OutageOptions& options) {
  std::filesystem::create_directories(options.plot_dir);
  const std::string dir = std::filesystem::absolute(options.plot_dir).string();
  const Timeline t = RunLoad(s, options);
  const std::vector<Event> events = ReadEvents(s);
  OutageResult r;
  WriteSeries(events, t, dir, r);
  r.png = Plot(t, options, dir);
  std::printf(
      "outage lag: %zu events; before the outage p99 %.1f ms; largest %.0f ms; the oldest "
      "undelivered event's age was back to its pre-outage level %.1f s after history-service "
      "was up again; plot %s (.svg, .dat beside it)\n",
      events.size(), r.steady_p99_ms, r.max_lag_ms, r.recovered_after_s, r.png.c_str());
  return r;
}

}  // namespace booking::testing
