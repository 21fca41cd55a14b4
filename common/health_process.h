// The probes' port (--health-listen), served by a process of its own.
//
// Inside the service's process, health answers share gRPC's pollers, the
// allocator and the address space with every call: a flood of 100 MB messages
// (which gRPC 1.51 reads whole before checking their size, grpc/grpc#43012)
// delayed them by 200-400 ms, a probe's timeout away from a restart. So the
// service starts itself again (/proc/self/exe) in health mode: a small gRPC
// server answering only grpc.health.v1.Health (and reflection), told the
// verdict over a socket pair:
//   - the service's verdict ("" and each service name: SERVING while its
//     store probe passes) is sent on every change and every second;
//   - "liveness" is SERVING while those messages keep coming: a service that
//     stops sending for kStaleAfter (hung) reads NOT_SERVING and is
//     restarted; one that exits closes the socket and the health process
//     exits with it (and is killed if its parent dies: PR_SET_PDEATHSIG).
// The health process ignores SIGTERM and SIGINT: it follows its service's
// drain, answering NOT_SERVING, and ends when the service does.
#ifndef BOOKING_COMMON_HEALTH_PROCESS_H_
#define BOOKING_COMMON_HEALTH_PROCESS_H_

#include <sys/types.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/connection_acceptor.h"

namespace booking {

// Thread safe.
class HealthProcess {
  struct Token {  // only Spawn constructs one
    explicit Token() = default;
  };

 public:
  // How often the service repeats its verdict, and how long the health
  // process waits for it before liveness reads NOT_SERVING.
  static constexpr absl::Duration kHeartbeat = absl::Seconds(1);
  static constexpr absl::Duration kStaleAfter = absl::Seconds(10);

  // Starts the health process serving `listen` (HOST:PORT; port 0 picks one)
  // for the server ("") and `services`, NOT_SERVING until the first Report.
  // Returns once it listens, or why it could not (its own words).
  static absl::StatusOr<std::unique_ptr<HealthProcess>> Spawn(
      const std::string& listen, const std::vector<std::string>& services);

  // In main, before anything else: when this binary was started as a health
  // process, runs it and returns its exit code; otherwise nullopt.
  static std::optional<int> RunIfAsked(int argc, char** argv);

  // Use Spawn.
  HealthProcess(Token, pid_t pid, ScopedFd socket, int port);
  // Closes the socket (the health process stops) and waits for it to exit.
  ~HealthProcess();
  HealthProcess(const HealthProcess&) = delete;
  HealthProcess& operator=(const HealthProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }

  // The service's verdict: sent at once, then repeated every kHeartbeat.
  void Report(bool serving);

 private:
  void HeartbeatLoop();

  const pid_t pid_;
  ScopedFd socket_;
  const int port_;
  std::mutex mu_;
  std::condition_variable changed_;
  bool serving_ ABSL_GUARDED_BY(mu_) = false;
  bool reported_ ABSL_GUARDED_BY(mu_) = false;  // serving_ was sent
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread heartbeat_;
};

}  // namespace booking

#endif  // BOOKING_COMMON_HEALTH_PROCESS_H_
