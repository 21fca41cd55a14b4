// The servers' own TCP listener. gRPC 1.51's listener stops accepting for good
// once accept4 fails with EMFILE (grpc/grpc#20418, fixed in 1.57), so both
// servers listen and accept here and hand each connection to gRPC as an
// external connection. The loop survives the open-files limit (a spare fd is
// given up to accept and close the waiting connection, so its client gets an
// error instead of hanging in the backlog) and caps open connections. A
// connection reaches gRPC only once its first bytes arrive: a silent one
// costs an fd here, never gRPC's buffers or its pollers' time, and is closed
// after first_bytes_timeout.
#ifndef BOOKING_COMMON_CONNECTION_ACCEPTOR_H_
#define BOOKING_COMMON_CONNECTION_ACCEPTOR_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server_builder.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace booking {

// An owned file descriptor, closed on destruction.
//
// Thread-compatible: one thread at a time (callers serialise).
class ScopedFd {
 public:
  ScopedFd() = default;
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(ScopedFd&& other) noexcept : fd_(other.release()) {}
  ScopedFd& operator=(ScopedFd&& other) noexcept;
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release();
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Raises RLIMIT_NOFILE's soft limit to the hard limit and logs both.
void RaiseOpenFilesLimit();

// Thread-compatible: one thread at a time (callers serialise). Its accept loop runs on a thread of
// its own, which alone uses the rest of its state.
class ConnectionAcceptor {
 public:
  struct Options {
    std::string listen;          // HOST:PORT; [v6]:PORT; port 0 picks one
    int max_connections = 4096;  // open connections above which new ones are closed
    std::string name = "grpc";   // the "listener" label of its metrics, in its logs
    absl::Duration first_bytes_timeout = absl::Seconds(10);
    prometheus::Registry* metrics = nullptr;
  };

  // Resolves and binds every address of `listen` and listens; an address
  // that cannot be used is FAILED_PRECONDITION "<listen>: why" (e.g. "address
  // already in use (...)"); INVALID_ARGUMENT when `listen` is not HOST:PORT.
  static absl::StatusOr<std::unique_ptr<ConnectionAcceptor>> Listen(Options options);
  // Whether `listen` has the form Listen takes: INVALID_ARGUMENT as Listen
  // says it. Nothing is resolved or bound.
  static absl::Status CheckAddress(const std::string& listen);
  ~ConnectionAcceptor();  // Stop()
  ConnectionAcceptor(const ConnectionAcceptor&) = delete;
  ConnectionAcceptor& operator=(const ConnectionAcceptor&) = delete;

  // The port bound (the one chosen when `listen` asked for port 0).
  int port() const { return port_; }

  // Starts the accept loop; each connection goes to `sink` (from
  // ServerBuilder::experimental().AddExternalConnectionAcceptor).
  void Start(std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> sink);

  // Stops accepting and closes the listening sockets; connections already
  // handed to gRPC are gRPC's. Idempotent.
  void Stop();

 private:
  enum class Refusal { kCap, kFdLimit, kSilent };
  struct Counters;
  struct Silent {  // accepted, nothing received yet
    ScopedFd fd;
    int listener;
    uint64_t generation;
  };

  explicit ConnectionAcceptor(Options options);
  void Loop();
  // Accepts until the backlog of `listener` is empty (or Stop).
  void AcceptAll(int listener);
  // accept4 failed with `error`: recovers; false when the backlog is empty.
  bool OnAcceptError(int listener, int error);
  void Refuse(ScopedFd fd, Refusal why);  // closes it (RST), counts and logs
  // Keeps `fd` until its first bytes arrive (then gRPC's) or the timeout.
  void HoldSilent(ScopedFd fd, int listener);
  void OnSilentEvents();
  // Closes the silent connections past their time; returns the milliseconds
  // until the next one's (-1: none).
  int ExpireSilent();
  void HandOver(int fd, int listener);
  // The estimate of open connections: fds open now minus fds open before the
  // first connection, counted at most every 100 ms, plus accepts since.
  int OpenConnections();
  void WaitForWakeup(absl::Duration timeout);

  const Options options_;
  std::vector<ScopedFd> listeners_;
  ScopedFd wakeup_;  // eventfd: Stop
  ScopedFd spare_;   // /dev/null, given up to accept at EMFILE
  int port_ = 0;
  int baseline_fds_ = 0;
  int counted_fds_ = 0;
  absl::Time counted_at_ = absl::InfinitePast();
  absl::Time logged_at_[3] = {absl::InfinitePast(), absl::InfinitePast(), absl::InfinitePast()};
  int unlogged_[3] = {0, 0, 0};
  ScopedFd silent_epoll_;
  std::unordered_map<int, Silent> silent_;  // by fd
  // (fd, generation, deadline) in accept order: the oldest expire first.
  std::deque<std::tuple<int, uint64_t, absl::Time>> silent_order_;
  uint64_t generation_ = 0;
  absl::Time error_logged_at_ = absl::InfinitePast();
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> sink_;
  std::shared_ptr<prometheus::Registry> own_metrics_;  // when options_.metrics is null
  std::unique_ptr<Counters> counters_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace booking

#endif  // BOOKING_COMMON_CONNECTION_ACCEPTOR_H_
