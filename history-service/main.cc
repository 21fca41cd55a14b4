// history-service: the append-only, immutable status history of bookings.
#include <optional>

#include "absl/flags/flag.h"
#include "absl/time/clock.h"
#include "common/config.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/server_runtime.h"
#include "common/store_schema.h"
#include "common/tls_setup.h"
#include "history-service/checkpointer.h"
#include "history-service/history_service.h"
#include "history-service/history_store.h"
#include "history-service/page_token.h"

ABSL_FLAG(std::string, listen, "",
          "gRPC address HOST:PORT [env HISTORY_LISTEN, default 0.0.0.0:50052]");
ABSL_FLAG(std::string, database_schema, "",
          "the schema the history store is in [env HISTORY_DATABASE_SCHEMA; default: the one "
          "schema holding \"BookingStatusHistory\"]");
ABSL_FLAG(std::string, database_url, "",
          "history store, a libpq URL [env HISTORY_DATABASE_URL; required]");
ABSL_FLAG(std::string, metrics_listen, "",
          "Prometheus /metrics address HOST:PORT [env HISTORY_METRICS_LISTEN; default: off]");
ABSL_FLAG(int, db_pool_size, 8,
          "history store connections for reads (GetBookingHistory, ListHistory, VerifyHistory)");
ABSL_FLAG(int, db_ingest_pool_size, 4,
          "history store connections for Ingest alone, never used by reads (the checkpointer and "
          "the watch feed have one connection each besides)");
ABSL_FLAG(int, max_reads_per_caller, 2,
          "read calls (GetBookingHistory, ListHistory, VerifyHistory) one principal may run at "
          "once; beyond, a call waits --read-wait for one of them to end, then is refused with "
          "RESOURCE_EXHAUSTED and a RetryInfo (0: no bound)");
ABSL_FLAG(absl::Duration, read_wait, absl::Milliseconds(100),
          "how long a read beyond --max-reads-per-caller waits for a place before it is refused "
          "(never past its deadline; at most half of --grpc-max-threads wait at once): a caller "
          "that ignores RetryInfo is slowed to the pace of one that honours it (0: refuse at "
          "once)");
ABSL_FLAG(std::string, health_listen, "",
          "address HOST:PORT of a server answering only grpc.health.v1.Health (and reflection), "
          "with bounds of its own, for probes [env HISTORY_HEALTH_LISTEN; default: off]");
ABSL_FLAG(std::string, grpc_memory_quota_mib, "",
          "memory gRPC may use for all connections' buffers, MiB; near it new connections are "
          "refused and streams cancelled [env HISTORY_GRPC_MEMORY_QUOTA_MIB, default 128]");
ABSL_FLAG(std::string, grpc_max_threads, "",
          "threads running calls at once; beyond, calls are refused with RESOURCE_EXHAUSTED [env "
          "HISTORY_GRPC_MAX_THREADS, default 64]");
ABSL_FLAG(std::string, max_connections, "",
          "open connections beyond which new ones are closed at once [env HISTORY_MAX_CONNECTIONS, "
          "default 4096]");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(10),
          "on SIGTERM, how long in-flight calls and ingest streams may take to finish");

ABSL_FLAG(int, watch_buffer, booking::limits::kWatchBufferEntries,
          "WatchHistory: entries queued per watcher; one further behind reads on from the store");
ABSL_FLAG(absl::Duration, watch_stall_timeout, absl::Seconds(10),
          "WatchHistory: a watcher whose buffer stays full, nothing read, this long is cut off "
          "(RESOURCE_EXHAUSTED, WATCH_TOO_SLOW) and resumes from its token");

ABSL_FLAG(std::string, held_back_per_booking, "",
          "events one booking may have held back (gaps, forks, conflicts at places history has "
          "not stored); beyond, a new one is not kept [env HISTORY_HELD_BACK_PER_BOOKING, "
          "default 100]");
ABSL_FLAG(std::string, held_back_max_rows, "",
          "events held back in all; beyond, a new one is not kept [env "
          "HISTORY_HELD_BACK_MAX_ROWS, default 100000]");

ABSL_FLAG(std::string, checkpoint_key, "",
          "file holding the Ed25519 seed (hex) that signs checkpoints of the store; make one "
          "with `history-verify keygen --out FILE` [env HISTORY_CHECKPOINT_KEY; default: no "
          "checkpoints]");
ABSL_FLAG(std::string, page_token_key, "",
          "file whose first line (32+ bytes, e.g. `openssl rand -base64 48`) signs page and "
          "resume tokens; further lines are still accepted (rotation). Every replica needs the "
          "same file [env HISTORY_PAGE_TOKEN_KEY; default: a random key per process, so tokens "
          "hold neither across restarts nor across replicas]");
ABSL_FLAG(absl::Duration, checkpoint_interval, absl::Minutes(1),
          "how often a checkpoint is signed (when rows were added since the last)");

namespace booking {
namespace {

// Secure by default: no policy, no start (but plaintext without tokens, a
// mesh's business).
constexpr char kPolicyNeeded[] =
    "without a policy every client certificate of the CA (and every token) could write "
    "history. Pass --authz-policy with a line that lets only the relay Ingest, e.g. \"allow "
    "spiffe://<trust-domain>/booking-service /history.v1.HistoryService/Ingest\" (README "
    "\"Transport security and authorization\")";

constexpr char kUsage[] = R"(the append-only, immutable status history of bookings.

Takes status-change events from booking-service over one long-lived gRPC stream
(history.v1.HistoryService/Ingest), stores each batch in one transaction, each
event id exactly once, and acknowledges it. Answers GetBookingHistory (oldest
first, by the booking's sequence number) and WatchHistory (entries as they are
stored, resumable from a token; see --watch-buffer). The table refuses UPDATE and DELETE
by trigger, whoever connects.

  history-service --database-url postgresql://... --listen 0.0.0.0:50052

Serves grpc.health.v1.Health (SERVING while the history store is reachable and
migrated) and server reflection. SIGTERM drains. The schema comes from
`migrator up`; this service never runs DDL.)";

absl::Status CheckPoolFlags() {
  if (absl::GetFlag(FLAGS_db_pool_size) < 1 || absl::GetFlag(FLAGS_db_ingest_pool_size) < 1 ||
      absl::GetFlag(FLAGS_max_reads_per_caller) < 0 ||
      absl::GetFlag(FLAGS_read_wait) < absl::ZeroDuration() ||
      absl::GetFlag(FLAGS_read_wait) > absl::Seconds(10)) {
    return absl::InvalidArgumentError(
        "--db-pool-size and --db-ingest-pool-size must be at least 1, --max-reads-per-caller at "
        "least 0 (0: no bound), --read-wait from 0 to 10s");
  }
  return absl::OkStatus();
}

// The server's address, drain and bounds, from flags and the environment
// (and the pools' flags checked).
absl::StatusOr<ServerConfig> ServerSettings() {
  ServerConfig config;
  config.listen = FlagOrEnv(FLAGS_listen, "HISTORY_LISTEN");
  if (config.listen.empty()) config.listen = "0.0.0.0:50052";
  config.metrics_listen = FlagOrEnv(FLAGS_metrics_listen, "HISTORY_METRICS_LISTEN");
  config.health_listen = FlagOrEnv(FLAGS_health_listen, "HISTORY_HEALTH_LISTEN");
  config.drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  // Ingest batches (the relay caps them at limits::kMaxIngestBatchBytes);
  // requests of GetBookingHistory are far smaller.
  config.max_receive_message_bytes = limits::kMaxIngestMessageBytes;
  absl::Status bounds = ApplyBoundSettings(
      {.memory_quota_mib = FlagOrEnv(FLAGS_grpc_memory_quota_mib, "HISTORY_GRPC_MEMORY_QUOTA_MIB"),
       .max_threads = FlagOrEnv(FLAGS_grpc_max_threads, "HISTORY_GRPC_MAX_THREADS"),
       .max_connections = FlagOrEnv(FLAGS_max_connections, "HISTORY_MAX_CONNECTIONS")},
      config);
  if (!bounds.ok()) return bounds;
  if (absl::Status pools = CheckPoolFlags(); !pools.ok()) return pools;
  return config;
}

absl::StatusOr<WatchHub::Options> WatchSettings(const std::string& database_url) {
  if (absl::GetFlag(FLAGS_watch_buffer) < 1) {
    return absl::InvalidArgumentError("--watch-buffer must be at least 1");
  }
  // Its own connection for LISTEN (a pooled one would miss notifications).
  return WatchHub::Options{
      .listen_url = WithConnectionDefaults(database_url, "history-service-watch"),
      .buffer = absl::GetFlag(FLAGS_watch_buffer),
      .stall = absl::GetFlag(FLAGS_watch_stall_timeout)};
}

// The store's connections, a pool per kind of work: readers, however many
// and however slow, cannot take the connections Ingest, the watch feed or
// the checkpointer need. Connections open on first use.
struct StorePools {
  StorePools(const std::string& url, const std::string& schema, prometheus::Registry& metrics)
      : reads(Options(url, schema, metrics, "history", absl::GetFlag(FLAGS_db_pool_size),
                      absl::Seconds(1))),
        ingest(Options(url, schema, metrics, "history-ingest",
                       absl::GetFlag(FLAGS_db_ingest_pool_size), absl::Seconds(5))),
        watch(Options(url, schema, metrics, "history-watch", 1, absl::Seconds(1))),
        checkpoint(Options(url, schema, metrics, "history-checkpoint", 1, absl::Seconds(5))) {}

  static PgPool::Options Options(const std::string& url, const std::string& schema,
                                 prometheus::Registry& metrics, const std::string& name, int size,
                                 absl::Duration wait) {
    return {.url = WithConnectionDefaults(url, "history-service"),
            .size = size,
            .acquire_timeout = wait,
            .setup =
                [schema](pqxx::connection& c) {
                  UseStoreSchema(c, "BookingStatusHistory", schema);
                  c.set_variable("statement_timeout", "10000");
                },
            .name = name,
            .metrics = &metrics};
  }

  PgPool reads;       // GetBookingHistory, ListHistory, VerifyHistory
  PgPool ingest;      // Ingest alone
  PgPool watch;       // the watch feed's reader (one thread)
  PgPool checkpoint;  // the checkpointer (one thread)
};

// Every flag checked before anything starts: a bad one is exit 2, logged.
struct Settings {
  std::string database_url;
  std::string schema;
  ServerConfig server;
  WatchHub::Options watch;
  HeldBackLimits held_back;
  std::optional<SigningKey> checkpoint_key;
};

absl::StatusOr<Settings> ReadSettings() {
  Settings s;
  s.database_url = FlagOrEnv(FLAGS_database_url, "HISTORY_DATABASE_URL");
  if (s.database_url.empty()) {
    return absl::InvalidArgumentError(
        "--database-url (or HISTORY_DATABASE_URL) is required; see --help");
  }
  s.schema = FlagOrEnv(FLAGS_database_schema, "HISTORY_DATABASE_SCHEMA");
  absl::StatusOr<ServerConfig> server = ServerSettings();
  if (!server.ok()) return server.status();
  s.server = *std::move(server);
  absl::StatusOr<WatchHub::Options> watch = WatchSettings(s.database_url);
  if (!watch.ok()) return watch.status();
  s.watch = *std::move(watch);
  absl::StatusOr<HeldBackLimits> held_back =
      ParseHeldBackLimits(FlagOrEnv(FLAGS_held_back_per_booking, "HISTORY_HELD_BACK_PER_BOOKING"),
                          FlagOrEnv(FLAGS_held_back_max_rows, "HISTORY_HELD_BACK_MAX_ROWS"));
  if (!held_back.ok()) return held_back.status();
  s.held_back = *held_back;
  if (const std::string file = FlagOrEnv(FLAGS_checkpoint_key, "HISTORY_CHECKPOINT_KEY");
      !file.empty()) {
    absl::StatusOr<SigningKey> key = LoadSigningKey(file);
    if (!key.ok()) return key.status();
    s.checkpoint_key = *std::move(key);
  }
  return s;
}

// The page and resume tokens' key (--page-token-key), or a random one.
absl::Status InstallPageTokenKey() {
  const std::string file = FlagOrEnv(FLAGS_page_token_key, "HISTORY_PAGE_TOKEN_KEY");
  if (file.empty()) {
    LogWarning(
        "no --page-token-key: page and resume tokens are signed with a random key of this "
        "process; they fail after a restart and on other replicas");
    return absl::OkStatus();
  }
  absl::StatusOr<TokenKeys> keys = TokenKeys::FromFile(file);
  if (!keys.ok()) return keys.status();
  InstallTokenKeys(*std::move(keys));
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  // This binary started again to answer the probes (common/health_process.h).
  if (std::optional<int> code = HealthProcess::RunIfAsked(argc, argv)) return *code;
  ServerRuntime::BlockTerminationSignals();
  ParseCommandLine(argc, argv, kUsage);
  absl::StatusOr<Settings> settings = ReadSettings();
  if (!settings.ok()) {
    LogError(settings.status().message());
    return 2;
  }
  if (!SecureServer("HISTORY", settings->server, kPolicyNeeded).ok()) return 2;  // TLS, policy
  if (absl::Status s = InstallPageTokenKey(); !s.ok()) {
    LogError(s.message());
    return 2;
  }
  const ReadBounds reads = {
      .max_per_caller = absl::GetFlag(FLAGS_max_reads_per_caller),
      .max_wait = absl::GetFlag(FLAGS_read_wait),
      .max_waiting = settings->server.max_threads / 2};  // the other half runs calls
  ServerRuntime runtime(std::move(settings->server));
  const std::string& schema = settings->schema;
  StorePools pools(settings->database_url, schema, runtime.metrics());
  HistoryStore store(pools.ingest, pools.reads, settings->held_back, &runtime.metrics());
  if (absl::Status s = store.RefreshHeldBackGauges(absl::Now() + absl::Seconds(2)); !s.ok()) {
    // Set by the first ingest batch instead.
    LogWarning("held-back gauges not read at start", {{"error", s.ToString()}});
  }
  ProbeConnection probe(
      WithConnectionDefaults(settings->database_url, "history-service-probe"),
      [&schema](pqxx::connection& c) { UseStoreSchema(c, "BookingStatusHistory", schema); });
  WatchHub watches(pools.watch, settings->watch);
  watches.Start();
  HistoryServiceImpl service(store, runtime.metrics(), &watches, reads);
  if (absl::Status s = runtime.Start({{&service, history::v1::HistoryService::service_full_name()}},
                                     [&] { return HistoryStore::Probe(probe); });
      !s.ok()) {
    LogError("cannot start", {{"error", s.ToString()}});
    return 1;
  }
  std::optional<Checkpointer> checkpointer;
  if (settings->checkpoint_key.has_value()) {
    checkpointer.emplace(pools.checkpoint, *std::move(settings->checkpoint_key),
                         absl::GetFlag(FLAGS_checkpoint_interval));
    checkpointer->Start();
  }
  runtime.OnDrain([&] { service.BeginDrain(); });
  runtime.WaitForTerminationSignal();
  runtime.Drain();
  LogInfo("stopped");
  return 0;
}

}  // namespace
}  // namespace booking

int main(int argc, char** argv) { return booking::Main(argc, argv); }
