// The migration benchmark's picture: a concurrent writer's latency over time
// through each plan's phases, one panel per plan, written as .dat files, a
// gnuplot script, SVG and PNG.
#ifndef BENCH_MIGRATION_PLOT_H_
#define BENCH_MIGRATION_PLOT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bench/migration/probe.h"

namespace booking::bench {

struct Series {
  std::string key;    // file name part: "ours", "seed"
  std::string title;  // panel title
  std::vector<Sample> samples;
  std::vector<Phase> phases;
};

// Writes <dir>/migration-<key>.dat and <dir>/migration-<key>-phases.dat per
// series, <dir>/migration-latency.gp, and runs gnuplot for
// migration-latency.svg and .png. Returns the paths written (or why not).
absl::Status WriteLatencyPlot(const std::string& dir, const std::vector<Series>& series);

}  // namespace booking::bench

#endif  // BENCH_MIGRATION_PLOT_H_
