#include "common/service_startup.h"

#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "common/config.h"
#include "common/connection_acceptor.h"
#include "common/exit_codes.h"
#include "common/health_process.h"
#include "common/log.h"
#include "common/store_schema.h"
#include "common/tls_setup.h"

namespace booking {
namespace {

// The spec of the service this process runs, set once by ServiceStartup's
// constructor, before the command line is parsed.
ServiceSpec& RunningSpec() {
  static ServiceSpec* const spec = new ServiceSpec();
  return *spec;
}

// A shared flag's help for the running service. abseil evaluates a help text
// that is not a literal (and a default that is not an integer) only when it
// needs it, after the spec is set: each binary's --help names its own
// environment variables and defaults.
std::string Help(absl::string_view text) {
  const ServiceSpec& spec = RunningSpec();
  return absl::StrReplaceAll(text, {{"{prefix}", spec.env_prefix},
                                    {"{store}", absl::AsciiStrToLower(spec.env_prefix)},
                                    {"{table}", spec.table},
                                    {"{listen}", spec.default_listen},
                                    {"{pool}", spec.pool_help},
                                    {"{drained}", spec.drained}});
}

}  // namespace
}  // namespace booking

ABSL_FLAG(std::string, listen, "",
          booking::Help("gRPC address HOST:PORT [env {prefix}_LISTEN, default {listen}]"));
ABSL_FLAG(std::string, database_url, "",
          booking::Help("{store} store, a libpq URL [env {prefix}_DATABASE_URL; required]"));
ABSL_FLAG(std::string, database_schema, "",
          booking::Help("the schema the {store} store is in [env {prefix}_DATABASE_SCHEMA; "
                        "default: the one schema holding \"{table}\"]"));
ABSL_FLAG(int, db_pool_size, 8, booking::Help("{pool}"));
ABSL_FLAG(std::string, metrics_listen, "",
          booking::Help("Prometheus /metrics address HOST:PORT [env {prefix}_METRICS_LISTEN; "
                        "default: off]"));
ABSL_FLAG(std::string, health_listen, "",
          booking::Help("address HOST:PORT of a server answering only grpc.health.v1.Health (and "
                        "reflection), with bounds of its own, for probes [env "
                        "{prefix}_HEALTH_LISTEN; default: off]"));
ABSL_FLAG(std::string, grpc_memory_quota_mib, "",
          booking::Help("memory gRPC may use for all connections' buffers, MiB; near it new "
                        "connections are refused and streams cancelled [env "
                        "{prefix}_GRPC_MEMORY_QUOTA_MIB, default 128]"));
ABSL_FLAG(std::string, grpc_max_threads, "",
          booking::Help("threads running calls at once; beyond, calls are refused with "
                        "RESOURCE_EXHAUSTED [env {prefix}_GRPC_MAX_THREADS, default 64]"));
ABSL_FLAG(std::string, max_connections, "",
          booking::Help("open connections beyond which new ones are closed at once [env "
                        "{prefix}_MAX_CONNECTIONS, default 4096]"));
ABSL_FLAG(absl::Duration, drain_timeout, booking::RunningSpec().drain_timeout,
          booking::Help("on SIGTERM, how long {drained} may take to finish"));

namespace booking {

absl::Status MissingRequired(const ServiceSpec& spec) {
  return absl::InvalidArgumentError(absl::StrCat(
      "--database-url (or ", spec.env_prefix, "_DATABASE_URL)",
      spec.also_required.empty() ? " is" : absl::StrCat(" and ", spec.also_required, " are"),
      " required; see --help"));
}

ServiceStartup::ServiceStartup(ServiceSpec spec) : spec_(std::move(spec)) { RunningSpec() = spec_; }

std::optional<int> ServiceStartup::Init(int argc, char** argv, const ReadOwn& read_own) {
  // This binary started again to answer the probes (common/health_process.h).
  if (std::optional<int> code = HealthProcess::RunIfAsked(argc, argv)) return code;
#ifdef NDEBUG
  // Debian's abseil is built without NDEBUG, so every absl::Mutex (gRPC's
  // locks are absl::Mutex too) would record lock order for deadlock
  // detection: 437 ns instead of 65 for a nested lock pair, about a tenth of
  // booking-service's CPU per status change. A debugging aid, off in our
  // release builds as in abseil's own.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  ServerRuntime::BlockTerminationSignals();
  ParseFlags(argc, argv, spec_.usage);
  if (absl::Status s = ReadSettings(read_own); !s.ok()) {
    LogError(s.message());
    return kExitUsage;
  }
  absl::StatusOr<TlsSettings> tls =
      SecureServer(spec_.env_prefix, settings_.server, spec_.policy_needed);
  if (!tls.ok()) return kExitUsage;  // logged
  tls_ = *std::move(tls);
  runtime_.emplace(settings_.server);
  return std::nullopt;
}

// Every shared flag checked before anything starts.
absl::Status ServiceStartup::ReadSettings(const ReadOwn& read_own) {
  auto env = [this](absl::string_view name) { return absl::StrCat(spec_.env_prefix, "_", name); };
  settings_.database_url = FlagOrEnv(FLAGS_database_url, env("DATABASE_URL").c_str());
  if (settings_.database_url.empty()) return MissingRequired(spec_);
  settings_.schema = FlagOrEnv(FLAGS_database_schema, env("DATABASE_SCHEMA").c_str());
  settings_.pool_size = absl::GetFlag(FLAGS_db_pool_size);
  ServerConfig& config = settings_.server;
  config.listen = FlagOrEnv(FLAGS_listen, env("LISTEN").c_str());
  if (config.listen.empty()) config.listen = spec_.default_listen;
  config.metrics_listen = FlagOrEnv(FLAGS_metrics_listen, env("METRICS_LISTEN").c_str());
  config.health_listen = FlagOrEnv(FLAGS_health_listen, env("HEALTH_LISTEN").c_str());
  for (const auto& [flag, address] :
       {std::pair<const char*, const std::string&>{"--listen", config.listen},
        {"--metrics-listen", config.metrics_listen},
        {"--health-listen", config.health_listen}}) {
    absl::Status s = address.empty() ? absl::OkStatus() : ConnectionAcceptor::CheckAddress(address);
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(flag, " ", s.message()));
  }
  config.drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  config.max_receive_message_bytes = spec_.max_receive_message_bytes;
  absl::Status bounds = ApplyBoundSettings(
      {.memory_quota_mib =
           FlagOrEnv(FLAGS_grpc_memory_quota_mib, env("GRPC_MEMORY_QUOTA_MIB").c_str()),
       .max_threads = FlagOrEnv(FLAGS_grpc_max_threads, env("GRPC_MAX_THREADS").c_str()),
       .max_connections = FlagOrEnv(FLAGS_max_connections, env("MAX_CONNECTIONS").c_str())},
      config);
  if (!bounds.ok()) return bounds;
  return read_own(settings_);
}

std::string ServiceStartup::ConnectionUrl(absl::string_view role) const {
  return WithConnectionDefaults(settings_.database_url,
                                role.empty() ? spec_.name : absl::StrCat(spec_.name, "-", role));
}

ConnectionSetup ServiceStartup::StoreSetup() const {
  return [table = spec_.table, schema = settings_.schema](pqxx::connection& c) {
    UseStoreSchema(c, table, schema);
  };
}

PgPool::Options ServiceStartup::Pool(std::string name, int size, absl::Duration acquire_timeout) {
  return {
      .url = ConnectionUrl(),
      .size = size,
      .acquire_timeout = acquire_timeout,
      .setup =
          [in_schema = StoreSetup(), lock_timeout = spec_.lock_timeout_ms](pqxx::connection& c) {
            in_schema(c);
            // Bound every statement so a call cannot hang on a stuck store.
            c.set_variable("statement_timeout", "10000");
            // A call's queries are index lookups of a few rows: parallel
            // workers only add their start (5 ms measured on a stale row
            // estimate of VerifyHistory's leaf query, issue 22).
            c.set_variable("max_parallel_workers_per_gather", "0");
            if (lock_timeout > 0) c.set_variable("lock_timeout", std::to_string(lock_timeout));
          },
      .name = std::move(name),
      .metrics = &runtime_->metrics()};
}

int ServiceStartup::Serve(const std::vector<ServerRuntime::Served>& services,
                          const std::function<absl::Status(ProbeConnection&)>& probe,
                          const Hooks& hooks) {
  probe_.emplace(ConnectionUrl("probe"), StoreSetup());
  if (hooks.draining) runtime_->OnDrain(hooks.draining);
  if (absl::Status s = runtime_->Start(services, [this, probe] { return probe(*probe_); });
      !s.ok()) {
    LogError("cannot start", {{"error", s.ToString()}});
    // A listen address that is no HOST:PORT is a bad value (exit 2); one
    // that is taken or not this host's may work later (exit 1).
    return absl::IsInvalidArgument(s) ? kExitUsage : 1;
  }
  if (hooks.started) hooks.started();
  runtime_->WaitForTerminationSignal();
  runtime_->Drain();
  if (hooks.stopped) hooks.stopped();
  LogInfo("stopped");
  return 0;
}

}  // namespace booking
