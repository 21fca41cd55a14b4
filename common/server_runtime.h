// What both gRPC servers share: the standard health service (driven by a
// store probe), server reflection (grpcurl needs no .proto files), a
// Prometheus endpoint, a graceful drain on SIGTERM, and bounds on what callers
// can make a server hold (memory, threads, message sizes, streams,
// connections), so that no request, stream or flood exhausts it.
#ifndef BOOKING_COMMON_SERVER_RUNTIME_H_
#define BOOKING_COMMON_SERVER_RUNTIME_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/authz.h"
#include "common/connection_acceptor.h"
#include "common/health_process.h"
#include "grpcpp/grpcpp.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"

namespace booking {

struct ServerConfig {
  std::string listen;          // HOST:PORT
  std::string metrics_listen;  // HOST:PORT for /metrics; empty: none
  // HOST:PORT of a server answering only health (and reflection), in a
  // process of its own (common/health_process.h): the probes' port, which a
  // flood of the service port cannot starve. Empty: none (health is on
  // `listen` too, always).
  std::string health_listen;
  // Transport security of `listen` (null: plaintext; the health-only port is
  // always plaintext, see health_process.h) and who may call what (null:
  // everyone, as "anonymous"): common/tls.h, common/authz.h.
  std::shared_ptr<grpc::ServerCredentials> credentials;
  std::shared_ptr<const AccessControl> access;
  absl::Duration drain_timeout = absl::Seconds(20);
  absl::Duration probe_interval = absl::Seconds(2);

  // Bounds (why each: see ApplyLimits in server_runtime.cc).
  int64_t memory_quota_bytes = int64_t{128} << 20;  // gRPC's buffers, all connections
  int max_threads = 64;                             // sync call threads
  int max_connections = 4096;                       // open connections
  int max_receive_message_bytes = 4 << 20;
  int max_send_message_bytes = 4 << 20;
  int max_concurrent_streams = 100;  // per connection
  int max_metadata_bytes = 16 << 10;
  absl::Duration max_connection_idle = absl::Minutes(5);
  absl::Duration max_connection_age = absl::Minutes(30);
  absl::Duration max_connection_age_grace = absl::Seconds(30);
  absl::Duration handshake_timeout = absl::Seconds(20);
};

// The bounds operators may change, as given (a flag, else the environment;
// empty keeps the default): memory quota in MiB, threads, connections.
struct BoundSettings {
  std::string memory_quota_mib, max_threads, max_connections;
};
// Sets them in `config`; INVALID_ARGUMENT naming one that is not a positive
// integer.
absl::Status ApplyBoundSettings(const BoundSettings& settings, ServerConfig& config);

// Thread-compatible: one thread at a time (callers serialise). Its probe thread shares only what
// mu_ guards.
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
  // The ports listened on (after Start), the ones chosen for port 0.
  int port() const { return main_.acceptor != nullptr ? main_.acceptor->port() : 0; }
  int health_port() const { return health_process_ != nullptr ? health_process_->port() : 0; }

  struct Served {
    grpc::Service* service;
    std::string name;  // full name, e.g. "booking.v1.BookingService"
  };

  // Starts serving `services`, NOT_SERVING until the probe first succeeds.
  // `probe` runs every probe_interval; health is SERVING while it returns OK,
  // for the server ("") and for each service by name. Health of
  // kLivenessService is SERVING from Start to the end, whatever the probe:
  // a liveness probe asks for it, so that only a process that no longer
  // answers is restarted (not one whose store is down, or one draining).
  static constexpr char kLivenessService[] = "liveness";
  // The readiness probe's name for the server's verdict (the same as ""):
  // each probe names what it asks, so the two cannot be mixed up.
  static constexpr char kReadinessService[] = "readiness";
  absl::Status Start(const std::vector<Served>& services, std::function<absl::Status()> probe);

  // Runs at the start of Drain, after health turned NOT_SERVING and before
  // the server stops taking calls: the place to end long-lived streams after
  // the message in progress (Shutdown would otherwise wait for them until
  // drain_timeout).
  void OnDrain(std::function<void()> hook) { on_drain_ = std::move(hook); }

  // The health process's runtime: serves only health (and reflection) on
  // config.listen for the server ("") and `services`; SetHealth sets what it
  // answers.
  absl::Status StartHealthOnly(std::vector<std::string> services);
  void SetHealth(bool live, bool serving);

  // Blocks until SIGTERM or SIGINT arrives.
  void WaitForTerminationSignal();

  // Stop accepting connections, health NOT_SERVING (for clients already
  // connected), refuse new calls, let in-flight calls finish (at most
  // drain_timeout), then stop.
  void Drain();

 private:
  // A gRPC server fed by a listener of our own.
  struct Endpoint {
    std::unique_ptr<grpc::Server> server;
    std::unique_ptr<ConnectionAcceptor> acceptor;  // stopped before the server
    void Stop(absl::Duration grace);
  };
  absl::StatusOr<Endpoint> Serve(const std::string& listen, const std::vector<Served>& services);
  // Serves `services` (none: health only) on config_.listen, with health and
  // reflection.
  absl::Status StartEndpoint(const std::vector<Served>& services);
  void ApplyLimits(grpc::ServerBuilder& builder, bool health_only) const;
  // The Prometheus endpoint on config_.metrics_listen (none when empty).
  absl::Status StartMetrics();
  void ProbeLoop();
  void SetServing(bool serving);

  const ServerConfig config_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  Endpoint main_;
  std::unique_ptr<HealthProcess> health_process_;  // when config_.health_listen is set
  std::vector<std::string> service_names_;
  std::function<absl::Status()> probe_;
  std::function<void()> on_drain_;
  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread probe_thread_;
};

}  // namespace booking

#endif  // BOOKING_COMMON_SERVER_RUNTIME_H_
