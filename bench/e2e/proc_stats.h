// What e2e-bench reads from /proc about the processes under load: CPU time of
// a process tree (a service, or a PostgreSQL server with all its backends)
// and the resident memory of one process, sampled while the load runs.
#ifndef BENCH_E2E_PROC_STATS_H_
#define BENCH_E2E_PROC_STATS_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace booking::bench {

// CPU time of `pid` and every descendant alive now, with the children each
// of them waited for (ended backends), in seconds.
double TreeCpuSeconds(pid_t pid);
// A "/proc/<pid>/status" field in KiB ("VmRSS", "VmHWM"); 0 when absent.
int64_t StatusKib(pid_t pid, const std::string& field);
// The PostgreSQL server's postmaster pid (first line of postmaster.pid in
// `data_dir`); -1 when unreadable.
pid_t PostmasterPid(const std::string& data_dir);
// This process's CPU time so far (getrusage RUSAGE_SELF), in seconds.
double SelfCpuSeconds();

// CPU seconds of each named process tree over the load (Begin to End).
struct CpuMeter {
  std::vector<std::pair<std::string, pid_t>> trees;
  std::vector<double> start;
  double self_start = 0;
  absl::Time wall_start;
  std::vector<double> used;  // CPU seconds of each tree over the load, after End
  void Begin();
  // Prints each tree's share of the machine; returns the load generator's.
  double End();
};

// Samples VmRSS of named processes every `every` until Stop; remembers the
// peak of each, and the peak summed with its children (a health process).
class RssSampler {
 public:
  struct Peak {
    int64_t rss_kib = 0;            // the process itself
    int64_t with_children_kib = 0;  // plus its children at the same sample
    int children_seen = 0;          // most children seen at once
  };
  RssSampler(std::map<std::string, pid_t> pids, int every_ms);
  ~RssSampler();
  void Stop();
  std::map<std::string, Peak> peaks() const;

 private:
  void Loop(int every_ms);
  const std::map<std::string, pid_t> pids_;
  mutable std::mutex mu_;
  std::map<std::string, Peak> peaks_;  // guarded by mu_
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace booking::bench

#endif  // BENCH_E2E_PROC_STATS_H_
