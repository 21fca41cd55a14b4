#include "common/server_runtime.h"

#include <malloc.h>
#include <signal.h>

#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/authz_interceptor.h"
#include "common/log.h"
#include "common/parse_error_interceptor.h"
#include "common/rpc_metrics.h"
#include "common/server_reflection.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"

namespace booking {
namespace {

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

int Millis(absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); }

// The health-only server's bounds: health and reflection calls are small
// and few (probes, grpcurl).
constexpr size_t kHealthMemoryQuotaBytes = 16 << 20;
constexpr int kHealthMaxThreads = 8;
constexpr int kHealthMaxMessageBytes = 64 << 10;
constexpr int kHealthMaxStreams = 16;
constexpr int kHealthMaxConnections = 256;

// A listener that could not start, named by its flag: "--listen
// 127.0.0.1:50051: address already in use (...)". The code is kept.
absl::Status ListenerError(absl::string_view flag, const absl::Status& why) {
  return absl::Status(why.code(), absl::StrCat(flag, " ", why.message()));
}

}  // namespace

absl::Status ApplyBoundSettings(const BoundSettings& settings, ServerConfig& config) {
  const auto parse = [](absl::string_view name, const std::string& text, auto* out) {
    if (text.empty()) return absl::OkStatus();
    int value = 0;
    if (!absl::SimpleAtoi(text, &value) || value <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " must be a positive integer, not \"", text, "\""));
    }
    *out = value;
    return absl::OkStatus();
  };
  int64_t quota_mib = config.memory_quota_bytes >> 20;
  for (absl::Status s :
       {parse("--grpc-memory-quota-mib", settings.memory_quota_mib, &quota_mib),
        parse("--grpc-max-threads", settings.max_threads, &config.max_threads),
        parse("--max-connections", settings.max_connections, &config.max_connections)}) {
    if (!s.ok()) return s;
  }
  config.memory_quota_bytes = quota_mib << 20;
  return absl::OkStatus();
}

void ServerRuntime::BlockTerminationSignals() {
  sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

ServerRuntime::ServerRuntime(ServerConfig config)
    : config_(std::move(config)), registry_(std::make_shared<prometheus::Registry>()) {
  // glibc keeps freed memory: a flood of large messages left a server at
  // 300 MB RSS for good, nearly all of it free. A fixed mmap threshold (not
  // the default, which grows up to 32 MiB after the first large free) gives
  // large buffers back to the system when freed; fewer arenas fragment less.
  // What is still kept is given back by the probe loop (malloc_trim).
  mallopt(M_MMAP_THRESHOLD, 128 << 10);
  mallopt(M_ARENA_MAX, 4);
}

ServerRuntime::~ServerRuntime() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (probe_thread_.joinable()) probe_thread_.join();
  main_.Stop(absl::ZeroDuration());
}

void ServerRuntime::Endpoint::Stop(absl::Duration grace) {
  if (acceptor != nullptr) acceptor->Stop();  // the kernel refuses new connections
  if (server == nullptr) return;
  server->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
  server->Wait();
  server.reset();
}

void ServerRuntime::ApplyLimits(grpc::ServerBuilder& builder, bool health_only) const {
  // Memory: every connection's buffers are charged to one quota; past it,
  // gRPC sends idle connections away (GOAWAY) and cancels streams ("Buffers
  // full", RESOURCE_EXHAUSTED) instead of growing. It is soft: memory is
  // taken first, reclaimed after. Threads: a sync call holds one; past the
  // cap a call is refused at once with RESOURCE_EXHAUSTED rather than
  // starting thread number 5,000. Health is a callback service and needs
  // none of them. The health-only server has a quota of its own, so a flood
  // of the service port never sends its probes' connections away.
  grpc::ResourceQuota quota(health_only ? "grpc-health" : "grpc-server");
  quota.Resize(health_only ? kHealthMemoryQuotaBytes
                           : static_cast<size_t>(config_.memory_quota_bytes));
  quota.SetMaxThreads(health_only ? kHealthMaxThreads : config_.max_threads);
  builder.SetResourceQuota(quota);
  // Sync server: a few threads wait for calls; others start per call, within
  // max_threads.
  builder.SetSyncServerOption(grpc::ServerBuilder::NUM_CQS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::MIN_POLLERS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::MAX_POLLERS, 4);
  // Messages: each service states what its largest request can be. (gRPC
  // 1.51 checks the size once a message is complete: memory while it
  // arrives is bounded by the quota.) Replies stay under what a client
  // accepts by default (4 MiB).
  builder.SetMaxReceiveMessageSize(health_only ? kHealthMaxMessageBytes
                                               : config_.max_receive_message_bytes);
  builder.SetMaxSendMessageSize(config_.max_send_message_bytes);
  // Streams per connection: one connection cannot open thousands of calls.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             health_only ? kHealthMaxStreams : config_.max_concurrent_streams);
  // Header bytes per call: ids, a bearer token and tracing fit easily.
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, config_.max_metadata_bytes);
  // A connection that never completes the HTTP/2 handshake is closed.
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                             Millis(config_.handshake_timeout));
  // Idle connections are closed (GOAWAY); every connection is recycled after
  // its age (plus a grace for calls in flight), so load spreads over new
  // replicas and nothing is held forever. The relay reconnects on GOAWAY.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, Millis(config_.max_connection_idle));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, Millis(config_.max_connection_age));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                             Millis(config_.max_connection_age_grace));
  // Clients keep long-lived streams alive with pings every ~20 s (the relay
  // does); without this the server would count them as abuse and GOAWAY.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
}

absl::StatusOr<ServerRuntime::Endpoint> ServerRuntime::Serve(const std::string& listen,
                                                             const std::vector<Served>& services) {
  const bool health_only = services.empty();
  // Our own listener and accept loop (see connection_acceptor.h); gRPC gets
  // each connection as an fd.
  absl::StatusOr<std::unique_ptr<ConnectionAcceptor>> acceptor = ConnectionAcceptor::Listen(
      {.listen = listen,
       .max_connections = health_only ? kHealthMaxConnections : config_.max_connections,
       .name = health_only ? "health" : "grpc",
       .metrics = registry_.get()});
  if (!acceptor.ok())
    return ListenerError(health_only ? "--health-listen" : "--listen", acceptor.status());
  grpc::ServerBuilder builder;
  ApplyLimits(builder, health_only);
  auto interceptors = ServerInterceptors();
  interceptors.push_back(std::make_unique<AuthzInterceptorFactory>(
      config_.access != nullptr ? config_.access : AccessControl::Open()));
  // Last: it counts the status the caller gets, after authz replaced it.
  auto rpc_metrics = std::make_shared<RpcMetrics>(*registry_);
  std::vector<std::string> names;
  for (const Served& s : services) names.push_back(s.name);
  rpc_metrics->Precreate(names);
  interceptors.push_back(std::make_unique<RpcMetricsInterceptorFactory>(std::move(rpc_metrics)));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  auto sink = builder.experimental().AddExternalConnectionAcceptor(
      grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD,
      config_.credentials != nullptr && !health_only ? config_.credentials
                                                     : grpc::InsecureServerCredentials());
  for (const Served& s : services) builder.RegisterService(s.service);
  builder.SetOption(ServerReflectionOption());  // v1 and v1alpha
  Endpoint endpoint;
  endpoint.server = builder.BuildAndStart();
  if (endpoint.server == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot serve on ", listen, ": the gRPC server did not start"));
  }
  endpoint.acceptor = *std::move(acceptor);
  endpoint.acceptor->Start(std::move(sink));
  return endpoint;
}

absl::Status ServerRuntime::Start(const std::vector<Served>& services,
                                  std::function<absl::Status()> probe) {
  for (const Served& s : services) service_names_.push_back(s.name);
  if (!config_.health_listen.empty()) {
    // First, while this process has few threads and fds to copy.
    absl::StatusOr<std::unique_ptr<HealthProcess>> health =
        HealthProcess::Spawn(config_.health_listen, service_names_);
    if (!health.ok()) return health.status();
    health_process_ = *std::move(health);
  }
  RaiseOpenFilesLimit();
  absl::Status started = StartEndpoint(services);
  if (!started.ok()) return started;
  SetServing(false);

  if (absl::Status s = StartMetrics(); !s.ok()) return s;
  probe_ = std::move(probe);
  probe_thread_ = std::thread([this] { ProbeLoop(); });
  LogInfo("serving",
          {{"listen", config_.listen},
           {"port", absl::StrCat(port())},
           {"health_listen", config_.health_listen.empty() ? "off" : config_.health_listen},
           {"access", config_.access != nullptr ? config_.access->Describe() : "open"},
           {"health_port", absl::StrCat(health_port())},
           {"max_connections", absl::StrCat(config_.max_connections)},
           {"memory_quota_bytes", absl::StrCat(config_.memory_quota_bytes)},
           {"max_threads", absl::StrCat(config_.max_threads)},
           {"max_receive_message_bytes", absl::StrCat(config_.max_receive_message_bytes)},
           {"metrics", config_.metrics_listen.empty() ? "off" : config_.metrics_listen}});
  return absl::OkStatus();
}

absl::Status ServerRuntime::StartMetrics() {
  if (config_.metrics_listen.empty()) return absl::OkStatus();
  // prometheus-cpp's Exposer (civetweb) says only "null context when
  // constructing CivetServer" when it cannot bind: the address is tried
  // here first, so the error says why.
  {
    absl::StatusOr<std::unique_ptr<ConnectionAcceptor>> trial =
        ConnectionAcceptor::Listen({.listen = config_.metrics_listen, .name = "metrics"});
    if (!trial.ok()) return ListenerError("--metrics-listen", trial.status());
  }  // closed: free for the Exposer
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(config_.metrics_listen);
    exposer_->RegisterCollectable(registry_);
  } catch (const std::exception& e) {
    return absl::FailedPreconditionError(
        absl::StrCat("--metrics-listen ", config_.metrics_listen, ": ", e.what()));
  }
  return absl::OkStatus();
}

void ServerRuntime::ProbeLoop() {
  std::optional<bool> last;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    absl::Status status = probe_();
    malloc_trim(0);  // free memory back to the system: RSS falls after a burst
    lock.lock();
    if (stopping_) break;  // Drain owns the health status from here on
    const bool serving = status.ok();
    SetServing(serving);
    if (last != serving) {
      if (serving) {
        LogInfo("health SERVING");
      } else {
        LogWarning("health NOT_SERVING", {{"reason", status.ToString()}});
      }
      last = serving;
    }
    stop_cv_.wait_for(lock, absl::ToChronoMilliseconds(config_.probe_interval),
                      [&] { return stopping_; });
  }
}

absl::Status ServerRuntime::StartEndpoint(const std::vector<Served>& services) {
  // Linking the generated health descriptor into the binary lets reflection
  // serve grpc.health.v1.Health, which grpcurl needs to call it.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::EnableDefaultHealthCheckService(true);
  absl::StatusOr<Endpoint> main = Serve(config_.listen, services);
  if (!main.ok()) return main.status();
  main_ = *std::move(main);
  return absl::OkStatus();
}

absl::Status ServerRuntime::StartHealthOnly(std::vector<std::string> services) {
  service_names_ = std::move(services);
  absl::Status started = StartEndpoint({});
  if (started.ok()) SetHealth(true, false);
  return started;
}

void ServerRuntime::SetHealth(bool live, bool serving) {
  if (main_.server == nullptr) return;
  grpc::HealthCheckServiceInterface* health = main_.server->GetHealthCheckService();
  health->SetServingStatus(kLivenessService, live);
  health->SetServingStatus("", serving);
  health->SetServingStatus(kReadinessService, serving);
  for (const std::string& name : service_names_) health->SetServingStatus(name, serving);
}

void ServerRuntime::SetServing(bool serving) {
  SetHealth(true, serving);
  if (health_process_ != nullptr) health_process_->Report(serving);
}

void ServerRuntime::WaitForTerminationSignal() {
  sigset_t set = TerminationSignals();
  int signal = 0;
  sigwait(&set, &signal);
  LogInfo("termination signal received, draining", {{"signal", strsignal(signal)}});
}

void ServerRuntime::Drain() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (probe_thread_.joinable()) probe_thread_.join();
  if (main_.server == nullptr) return;
  // New connections first: the kernel refuses them from here on.
  main_.acceptor->Stop();
  SetServing(false);  // probes of the health port see NOT_SERVING until the end
  if (on_drain_) on_drain_();
  // Refuses new calls at once; in-flight calls get until the deadline.
  main_.Stop(config_.drain_timeout);
  health_process_.reset();
  LogInfo("drained");
}

}  // namespace booking
