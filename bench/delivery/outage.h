// delivery-bench's outage run: a steady load of status changes while
// history-service is taken down (SIGKILL, then restarted; or SIGSTOP, then
// continued) and brought back; afterwards the history lag of every event
// (booking commit to history row) and the age of the oldest undelivered
// event over time, written as .dat files and plotted with gnuplot (SVG and
// PNG), the outage span marked.
#ifndef BENCH_DELIVERY_OUTAGE_H_
#define BENCH_DELIVERY_OUTAGE_H_

#include <string>

#include "absl/time/time.h"
#include "tests/support/service_set.h"

namespace booking::testing {

struct OutageOptions {
  int threads = 4;
  absl::Duration pause;   // between a client thread's changes
  absl::Duration before;  // steady load before the outage
  absl::Duration outage;  // history-service down
  absl::Duration after;   // steady load after it is back
  bool kill = true;       // SIGKILL and restart; else SIGSTOP and SIGCONT
  std::string plot_dir;
};

struct OutageResult {
  double max_lag_ms = 0;          // largest event lag
  double steady_p99_ms = 0;       // p99 lag of events committed before the outage
  double recovered_after_s = -1;  // from the restart until the oldest age is steady again
  std::string png;                // the plot
};

// The services of `s` are running (history-service and booking replica 0).
OutageResult RunOutage(ServiceSet& s, const OutageOptions& options);

}  // namespace booking::testing

#endif  // BENCH_DELIVERY_OUTAGE_H_
