// Instruments for overload tests: a health checker on its own connection
// recording every answer's latency, a process's peak memory and threads, and
// idle TCP connections held open by a child process.
#ifndef TESTS_SUPPORT_OVERLOAD_H_
#define TESTS_SUPPORT_OVERLOAD_H_

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "tests/support/process.h"

namespace booking::testing {

// Calls grpc.health.v1.Health/Check on `target` every `interval` from a
// process of its own (tests/support/health_watch_main.cc), on a connection of
// its own, recording each check's latency in `log_path`.
class HealthWatch {
 public:
  struct Figures {
    int answers = 0;   // SERVING within the call's deadline
    int failures = 0;  // errors, timeouts and NOT_SERVING
    double p50_ms = 0, max_ms = 0;
    absl::Time max_at;          // when the slowest check started
    std::string first_failure;  // what the first failure was
    // How much later than asked the checker woke up for a check: when large,
    // the machine's CPUs were taken, not the server slow.
    double max_wake_lag_ms = 0;
  };

  HealthWatch(const std::string& target, std::string log_path,
              absl::Duration interval = absl::Milliseconds(50));
  HealthWatch(const HealthWatch&) = delete;
  HealthWatch& operator=(const HealthWatch&) = delete;

  // The figures of the checks since the last Take.
  Figures Take();
  // Blocks until `n` more checks have completed (answered or failed); false
  // when `timeout` passes first.
  bool WaitChecks(int n, absl::Duration timeout);

 private:
  std::vector<std::string> Lines() const;

  const std::string log_path_;
  size_t taken_ = 0;  // lines already taken
  std::optional<Process> process_;
};

// Peak resident memory and threads of processes, from /proc.
class PeakSampler {
 public:
  explicit PeakSampler(std::vector<pid_t> pids);
  ~PeakSampler();
  PeakSampler(const PeakSampler&) = delete;
  PeakSampler& operator=(const PeakSampler&) = delete;

  // Starts a new measurement: resets the kernel's peak RSS (VmHWM) of each.
  void Reset();
  // Peak RSS since Reset (VmHWM; the sampled VmRSS if larger) and the
  // largest number of threads sampled, of pids[i].
  int64_t PeakRssBytes(size_t i);
  // RSS of pids[i] when Reset was last called.
  int64_t StartRssBytes(size_t i);
  int PeakThreads(size_t i);

 private:
  void Run();

  const std::vector<pid_t> pids_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<int64_t> rss_, start_rss_;
  std::vector<int> threads_;
  std::thread thread_;
};

// A /proc/<pid>/status field in kB ("VmHWM", "VmRSS") or count ("Threads");
// -1 when the process is gone.
int64_t ProcStatusValue(pid_t pid, const std::string& field);

// A channel with a connection of its own (no subchannel shared with others).
std::shared_ptr<grpc::Channel> OwnChannel(const std::string& target);

// A deadline `d` from now.
std::chrono::system_clock::time_point In(absl::Duration d);

// A connection opened now (a channel of its own) is served health within
// `timeout`.
absl::Status NewConnectionServes(const std::string& target, absl::Duration timeout);

// Status codes of calls as they complete.
class Outcomes {
 public:
  explicit Outcomes(int expected) : remaining_(expected) {}
  void Record(grpc::StatusCode code);
  // True once `expected` calls have completed; false after `timeout`.
  bool WaitAll(absl::Duration timeout);
  int Count(grpc::StatusCode code);
  std::string Text();  // "code 0: 12, code 8: 4"

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int remaining_;
  std::map<grpc::StatusCode, int> codes_;
};

// `count` TCP connections to 127.0.0.1:`port`, opened and then held idle by a
// child process (so the caller's own open-files limit is not spent) until
// this object is destroyed.
class HeldConnections {
 public:
  // Returns once the child has tried every connection.
  static absl::StatusOr<HeldConnections> Open(int port, int count, absl::Duration timeout);
  HeldConnections(HeldConnections&& other) noexcept;
  HeldConnections& operator=(HeldConnections&&) = delete;
  HeldConnections(const HeldConnections&) = delete;
  ~HeldConnections();  // closes them all: SIGKILLs and reaps the child

  int connected() const { return connected_; }
  int failed() const { return failed_; }

 private:
  HeldConnections() = default;
  pid_t pid_ = -1;
  int connected_ = 0;
  int failed_ = 0;
};

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_OVERLOAD_H_
