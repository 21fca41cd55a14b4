#include "common/server_runtime.h"

#include <signal.h>

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"

namespace booking {
namespace {

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

absl::Time DeadlineOf(const grpc::ServerContext& context) {
  const auto deadline = context.deadline();
  // No deadline reads as the far future; a day or more is as good as none.
  if (deadline >= std::chrono::system_clock::now() + std::chrono::hours(24)) {
    return absl::InfiniteFuture();
  }
  return absl::FromChrono(deadline);
}

void ServerRuntime::BlockTerminationSignals() {
  sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

ServerRuntime::ServerRuntime(ServerConfig config)
    : config_(std::move(config)), registry_(std::make_shared<prometheus::Registry>()) {}

ServerRuntime::~ServerRuntime() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (probe_thread_.joinable()) probe_thread_.join();
  if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
}

absl::Status ServerRuntime::Start(const std::vector<Served>& services,
                                  std::function<absl::Status()> probe) {
  // Linking the generated health descriptor into the binary lets reflection
  // serve grpc.health.v1.Health, which grpcurl needs to call it.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  // Clients keep long-lived streams alive with pings every ~20 s (the relay
  // does); without this the server would count them as abuse and GOAWAY.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  int bound_port = 0;
  builder.AddListeningPort(config_.listen, grpc::InsecureServerCredentials(), &bound_port);
  for (const Served& s : services) {
    builder.RegisterService(s.service);
    service_names_.push_back(s.name);
  }
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || bound_port == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot listen on ", config_.listen, ": address in use or invalid"));
  }
  SetServing(false);

  if (!config_.metrics_listen.empty()) {
    try {
      exposer_ = std::make_unique<prometheus::Exposer>(config_.metrics_listen);
      exposer_->RegisterCollectable(registry_);
    } catch (const std::exception& e) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot serve metrics on ", config_.metrics_listen, ": ", e.what()));
    }
  }
  probe_ = std::move(probe);
  probe_thread_ = std::thread([this] { ProbeLoop(); });
  LogInfo("serving",
          {{"listen", config_.listen},
           {"metrics", config_.metrics_listen.empty() ? "off" : config_.metrics_listen}});
  return absl::OkStatus();
}

void ServerRuntime::ProbeLoop() {
  std::optional<bool> last;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    absl::Status status = probe_();
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

void ServerRuntime::SetServing(bool serving) {
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  health->SetServingStatus("", serving);
  for (const std::string& name : service_names_) health->SetServingStatus(name, serving);
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
  if (server_ == nullptr) return;
  SetServing(false);
  if (on_drain_) on_drain_();
  // Refuses new calls at once; in-flight calls get until the deadline.
  server_->Shutdown(std::chrono::system_clock::now() +
                    absl::ToChronoMilliseconds(config_.drain_timeout));
  server_->Wait();
  server_.reset();
  LogInfo("drained");
}

}  // namespace booking
