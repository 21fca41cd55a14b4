// booking-service: owns bookings and their status; relays every committed
// status change to history-service.
#include <cstdlib>
#include <optional>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "booking-service/auth.h"
#include "booking-service/booking_service.h"
#include "booking-service/booking_store.h"
#include "booking-service/outbox_relay.h"
#include "common/authz.h"
#include "common/config.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/probe_connection.h"
#include "common/server_runtime.h"
#include "common/store_schema.h"
#include "common/tls.h"
#include "common/tls_setup.h"

ABSL_FLAG(std::string, listen, "",
          "gRPC address HOST:PORT [env BOOKING_LISTEN, default 0.0.0.0:50051]");
ABSL_FLAG(std::string, database_url, "",
          "booking store, a libpq URL [env BOOKING_DATABASE_URL; required]");
ABSL_FLAG(std::string, database_schema, "",
          "the schema the booking store is in [env BOOKING_DATABASE_SCHEMA; default: the one "
          "schema holding \"Booking\"]");
ABSL_FLAG(std::string, history_target, "",
          "history-service address HOST:PORT [env HISTORY_TARGET; required]");
ABSL_FLAG(std::string, metrics_listen, "",
          "Prometheus /metrics address HOST:PORT [env BOOKING_METRICS_LISTEN; default: off]");
ABSL_FLAG(std::string, legacy_status_names, "",
          "accept|reject: whether old status names (JOCKEY_ASSIGNED, ...) are still accepted and "
          "mapped forward [env BOOKING_LEGACY_STATUS_NAMES, default accept]");
ABSL_FLAG(int, db_pool_size, 8, "booking store connections used by calls");
ABSL_FLAG(int, relay_batch_size, 500, "largest batch of events sent to history-service at once");
ABSL_FLAG(std::string, health_listen, "",
          "address HOST:PORT of a server answering only grpc.health.v1.Health (and reflection), "
          "with bounds of its own, for probes [env BOOKING_HEALTH_LISTEN; default: off]");
ABSL_FLAG(std::string, grpc_memory_quota_mib, "",
          "memory gRPC may use for all connections' buffers, MiB; near it new connections are "
          "refused and streams cancelled [env BOOKING_GRPC_MEMORY_QUOTA_MIB, default 128]");
ABSL_FLAG(std::string, grpc_max_threads, "",
          "threads running calls at once; beyond, calls are refused with RESOURCE_EXHAUSTED [env "
          "BOOKING_GRPC_MAX_THREADS, default 64]");
ABSL_FLAG(std::string, max_connections, "",
          "open connections beyond which new ones are closed at once [env BOOKING_MAX_CONNECTIONS, "
          "default 4096]");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(20),
          "on SIGTERM, how long in-flight calls may take to finish");

namespace booking {
namespace {

constexpr char kUsage[] = R"(owns bookings and their status.

Every status change is checked against the state machine and committed with its
event in one transaction (an outbox); a relay streams the events to
history-service, which stores each exactly once. If history-service is down,
bookings keep working and events wait in the outbox.

  booking-service --database-url postgresql://... --history-target localhost:50052

Serves booking.v1.BookingService, grpc.health.v1.Health (SERVING while the
booking store is reachable and migrated) and server reflection. SIGTERM drains.
The schema comes from `migrator up`; this service never runs DDL.)";

// The server's address, drain and bounds, from flags and the environment.
absl::StatusOr<ServerConfig> ServerSettings() {
  ServerConfig config;
  config.listen = FlagOrEnv(FLAGS_listen, "BOOKING_LISTEN");
  if (config.listen.empty()) config.listen = "0.0.0.0:50051";
  config.metrics_listen = FlagOrEnv(FLAGS_metrics_listen, "BOOKING_METRICS_LISTEN");
  config.health_listen = FlagOrEnv(FLAGS_health_listen, "BOOKING_HEALTH_LISTEN");
  config.drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  config.max_receive_message_bytes = limits::kMaxBookingRequestBytes;
  absl::Status bounds = ApplyBoundSettings(
      {.memory_quota_mib = FlagOrEnv(FLAGS_grpc_memory_quota_mib, "BOOKING_GRPC_MEMORY_QUOTA_MIB"),
       .max_threads = FlagOrEnv(FLAGS_grpc_max_threads, "BOOKING_GRPC_MAX_THREADS"),
       .max_connections = FlagOrEnv(FLAGS_max_connections, "BOOKING_MAX_CONNECTIONS")},
      config);
  if (!bounds.ok()) return bounds;
  return config;
}

// Where the store and history-service are, and how legacy names are taken.
struct StoreSettings {
  std::string database_url, history_target;
  LegacyNames legacy_names = LegacyNames::kAccept;
};

absl::StatusOr<StoreSettings> ReadStoreSettings() {
  StoreSettings settings{.database_url = FlagOrEnv(FLAGS_database_url, "BOOKING_DATABASE_URL"),
                         .history_target = FlagOrEnv(FLAGS_history_target, "HISTORY_TARGET")};
  if (settings.database_url.empty() || settings.history_target.empty()) {
    return absl::InvalidArgumentError(
        "--database-url (or BOOKING_DATABASE_URL) and --history-target (or HISTORY_TARGET) "
        "are required; see --help");
  }
  const std::string legacy = FlagOrEnv(FLAGS_legacy_status_names, "BOOKING_LEGACY_STATUS_NAMES");
  if (!legacy.empty() && legacy != "accept" && legacy != "reject") {
    return absl::InvalidArgumentError(
        absl::StrCat("--legacy-status-names must be accept or reject, not \"", legacy, "\""));
  }
  if (legacy == "reject") settings.legacy_names = LegacyNames::kReject;
  return settings;
}

int Main(int argc, char** argv) {
  // This binary started again to answer the probes (common/health_process.h).
  if (std::optional<int> code = HealthProcess::RunIfAsked(argc, argv)) return *code;
  ServerRuntime::BlockTerminationSignals();
  ParseCommandLine(argc, argv, kUsage);

  absl::StatusOr<StoreSettings> settings = ReadStoreSettings();
  if (!settings.ok()) {
    LogError(settings.status().message());
    return 2;
  }
  const std::string& database_url = settings->database_url;
  const std::string& history_target = settings->history_target;
  absl::StatusOr<ServerConfig> server = ServerSettings();
  if (!server.ok()) {
    LogError(server.status().message());
    return 2;
  }
  absl::StatusOr<TlsSettings> tls = SecureServer("BOOKING", *server);
  if (!tls.ok()) return 2;
  ServerRuntime runtime(*std::move(server));
  const std::string url = WithConnectionDefaults(database_url, "booking-service");
  const std::string schema = FlagOrEnv(FLAGS_database_schema, "BOOKING_DATABASE_SCHEMA");
  PgPool pool({.url = url,
               .size = absl::GetFlag(FLAGS_db_pool_size),
               .acquire_timeout = absl::Seconds(1),
               .setup =
                   [&schema](pqxx::connection& c) {
                     UseStoreSchema(c, "Booking", schema);
                     // Bound every statement so a call cannot hang on a stuck store.
                     c.set_variable("statement_timeout", "10000");
                     c.set_variable("lock_timeout", "5000");
                   },
               .name = "booking",
               .metrics = &runtime.metrics()});
  StatusChangeMetrics status_changes(runtime.metrics());
  BookingStore store(pool, &status_changes);
  ProbeConnection probe(WithConnectionDefaults(database_url, "booking-service-probe"),
                        [&schema](pqxx::connection& c) { UseStoreSchema(c, "Booking", schema); });
  const Authenticator auth;
  BookingServiceImpl service(store, auth, settings->legacy_names, runtime.metrics());
  OutboxRelay relay({.database_url = url,
                     .database_schema = schema,
                     .history_target = history_target,
                     .credentials = ChannelCredentialsFor(*tls),
                     .batch_size = absl::GetFlag(FLAGS_relay_batch_size)},
                    runtime.metrics());

  if (absl::Status s = runtime.Start({{&service, v1::BookingService::service_full_name()}},
                                     [&] { return BookingStore::Probe(probe); });
      !s.ok()) {
    LogError("cannot start", {{"error", s.ToString()}});
    return 1;
  }
  relay.Start();
  runtime.WaitForTerminationSignal();
  runtime.Drain();
  relay.Stop();
  LogInfo("stopped");
  return 0;
}

}  // namespace
}  // namespace booking

int main(int argc, char** argv) { return booking::Main(argc, argv); }
