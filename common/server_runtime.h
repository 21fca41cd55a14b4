// What both gRPC servers share: the standard health service (driven by a
// store probe), server reflection (grpcurl needs no .proto files), a
// Prometheus endpoint, and a graceful drain on SIGTERM.
#ifndef BOOKING_COMMON_SERVER_RUNTIME_H_
#define BOOKING_COMMON_SERVER_RUNTIME_H_

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"

namespace booking {

struct ServerConfig {
  std::string listen;          // HOST:PORT
  std::string metrics_listen;  // HOST:PORT for /metrics; empty: none
  absl::Duration drain_timeout = absl::Seconds(20);
  absl::Duration probe_interval = absl::Seconds(2);
};

// A call's deadline, for the store: InfiniteFuture when the caller set none.
absl::Time DeadlineOf(const grpc::ServerContext& context);

class ServerRuntime {
 public:
  // Call first in main, before any thread exists: SIGTERM and SIGINT are then
  // only ever received by WaitForTerminationSignal.
  static void BlockTerminationSignals();

  explicit ServerRuntime(ServerConfig config);
  ~ServerRuntime();
  ServerRuntime(const ServerRuntime&) = delete;
  ServerRuntime& operator=(const ServerRuntime&) = delete;

  prometheus::Registry& metrics() { return *registry_; }

  struct Served {
    grpc::Service* service;
    std::string name;  // full name, e.g. "booking.v1.BookingService"
  };

  // Starts serving `services`, NOT_SERVING until the probe first succeeds.
  // `probe` runs every probe_interval; health is SERVING while it returns OK,
  // for the server ("") and for each service by name.
  absl::Status Start(const std::vector<Served>& services, std::function<absl::Status()> probe);

  // Runs at the start of Drain, after health turned NOT_SERVING and before
  // the server stops taking calls: the place to end long-lived streams after
  // the message in progress (Shutdown would otherwise wait for them until
  // drain_timeout).
  void OnDrain(std::function<void()> hook) { on_drain_ = std::move(hook); }

  // Blocks until SIGTERM or SIGINT arrives.
  void WaitForTerminationSignal();

  // Health NOT_SERVING, refuse new calls, let in-flight calls finish (at most
  // drain_timeout), then stop.
  void Drain();

 private:
  void ProbeLoop();
  void SetServing(bool serving);

  const ServerConfig config_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::string> service_names_;
  std::function<absl::Status()> probe_;
  std::function<void()> on_drain_;
  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread probe_thread_;
};

}  // namespace booking

#endif  // BOOKING_COMMON_SERVER_RUNTIME_H_
