// A concurrent writer for the migration benchmark: one session changing
// random bookings (among those the migration relabels) in a loop, recording
// every change's latency with its start time, and the phases the migration
// went through, so waits can be summed up per phase and plotted over time.
#ifndef BENCH_MIGRATION_PROBE_H_
#define BENCH_MIGRATION_PROBE_H_

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace booking::bench {

struct Sample {
  double at_s;  // start of the change, seconds since the probe started
  double ms;    // how long the change took (commit included)
  bool ok;
};

struct Phase {
  std::string name;
  double start_s;
  double end_s;
};

struct WaitStats {
  int64_t count = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
};

class Probe {
 public:
  // `rows`: bookings in the store (ids bk-00000001..); the probe changes
  // only rows whose seed label the migration relabels.
  Probe(const std::string& url, int64_t rows);
  ~Probe();
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

  // Runs `work` as phase `name`, its span recorded on the probe's clock.
  template <typename F>
  absl::Duration RunPhase(const std::string& name, F&& work) {
    const double start = Now();
    const absl::Time t0 = absl::Now();
    work();
    const absl::Duration took = absl::Now() - t0;
    std::lock_guard<std::mutex> lock(mu_);
    phases_.push_back({name, start, Now()});
    return took;
  }
  void Stop();  // idempotent

  std::vector<Sample> samples() const;
  std::vector<Phase> phases() const;
  // Changes that started within phase `name` (all phases of that name).
  WaitStats StatsIn(const std::string& name) const;
  int64_t failures() const { return failures_; }

 private:
  void Run();
  double Now() const { return absl::ToDoubleSeconds(absl::Now() - origin_); }

  const std::string url_;
  const int64_t rows_;
  const absl::Time origin_;
  mutable std::mutex mu_;
  std::vector<Sample> samples_;
  std::vector<Phase> phases_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> failures_{0};
  std::thread thread_;
};

WaitStats Summarize(std::vector<double> ms);

}  // namespace booking::bench

#endif  // BENCH_MIGRATION_PROBE_H_
