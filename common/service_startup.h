// One service startup: what booking-service and history-service do the same
// way from main to exit. The flags both have (--listen, --database-url,
// --database-schema, --db-pool-size, --metrics-listen, --health-listen, the
// server's bounds, --drain-timeout) are defined once, in service_startup.cc,
// each read from the command line or else from the environment under the
// service's prefix (BOOKING_LISTEN, HISTORY_LISTEN, ...); then TLS and access
// control (common/tls_setup.h), the runtime with its metrics and health
// servers, the store's health probe, the start, and the drain on SIGTERM.
// A main.cc lists only what is its own: its flags, store and services.
//
//   ServiceStartup startup(MyServiceSpec());
//   if (std::optional<int> code = startup.Init(argc, argv, read_own)) return *code;
//   PgPool pool(startup.Pool("mine", startup.settings().pool_size, absl::Seconds(1)));
//   MyServiceImpl service(...);
//   return startup.Serve({{&service, "my.v1.MyService"}}, MyStore::Probe, {});
#ifndef BOOKING_COMMON_SERVICE_STARTUP_H_
#define BOOKING_COMMON_SERVICE_STARTUP_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/pg.h"
#include "common/probe_connection.h"
#include "common/server_runtime.h"
#include "common/tls.h"

namespace booking {

// What sets one service apart in the shared startup and in the shared flags'
// --help texts.
struct ServiceSpec {
  std::string name;            // "booking-service": logs, connections' application_name
  std::string env_prefix;      // "BOOKING": BOOKING_LISTEN, BOOKING_DATABASE_URL, ...
  std::string default_listen;  // "0.0.0.0:50051"
  std::string table;           // a table of the store, by which its schema is found
  std::string usage;           // --help's text
  std::string pool_help;       // --db-pool-size's help: what its connections serve
  std::string drained;         // what --drain-timeout waits for: "in-flight calls"
  absl::Duration drain_timeout = absl::Seconds(20);  // --drain-timeout's default
  int max_receive_message_bytes = 4 << 20;
  std::string policy_needed = {};  // see SecureServer (common/tls_setup.h)
  // Flags required besides --database-url, as --help's message names them:
  // "--history-target (or HISTORY_TARGET)".
  std::string also_required = {};
  int lock_timeout_ms = 0;  // pooled connections' lock_timeout; 0: the server's
};

// The shared flags, resolved (flag, else environment, else default).
struct ServiceSettings {
  std::string database_url;  // as given; required
  std::string schema;        // --database-schema; empty: the one holding spec.table
  int pool_size = 8;         // --db-pool-size
  ServerConfig server;       // address, bounds, drain
};

// INVALID_ARGUMENT: --database-url (or <prefix>_DATABASE_URL) and
// spec.also_required are required.
absl::Status MissingRequired(const ServiceSpec& spec);

// Thread-safety: for main's thread alone; runtime() is ServerRuntime's own.
// Only one ServiceStartup per process (the shared flags' help texts are its
// spec's).
class ServiceStartup {
 public:
  // Reads the service's own flags once the shared ones are read; a non-OK
  // status is logged and the process exits 2.
  using ReadOwn = std::function<absl::Status(const ServiceSettings&)>;

  explicit ServiceStartup(ServiceSpec spec);
  ServiceStartup(const ServiceStartup&) = delete;
  ServiceStartup& operator=(const ServiceStartup&) = delete;

  // Runs the health process when this binary was started again as one
  // (common/health_process.h). Otherwise blocks SIGTERM and SIGINT, parses
  // the command line (--help exits there), reads the shared flags and
  // `read_own`, secures the port (TLS, tokens, policy) and makes the runtime.
  // Returns a code when main should return it now: 2 on a bad flag or
  // setting (logged), or the health process's code; nullopt to go on.
  std::optional<int> Init(int argc, char** argv, const ReadOwn& read_own);

  // After Init returned nullopt:
  const ServiceSettings& settings() const { return settings_; }
  const TlsSettings& tls() const { return tls_; }
  ServerRuntime& runtime() { return *runtime_; }
  prometheus::Registry& metrics() { return runtime_->metrics(); }
  // The store's URL with connection defaults, named after the service, and
  // `role` when not empty ("booking-service", "booking-service-probe").
  std::string ConnectionUrl(absl::string_view role = "") const;
  // A pool of the store named `name`: its connections in the store's schema,
  // every statement bounded to 10s, counted in metrics().
  PgPool::Options Pool(std::string name, int size, absl::Duration acquire_timeout);

  struct Hooks {
    std::function<void()> started = {};   // once serving
    std::function<void()> draining = {};  // see ServerRuntime::OnDrain
    std::function<void()> stopped = {};   // after the drain
  };
  // Serves `services`, SERVING while `probe` succeeds on a connection of its
  // own; then waits for SIGTERM or SIGINT and drains. Returns main's exit
  // code: 0 after the drain, 1 when the server cannot start (logged; a
  // listener names its flag and address, e.g. "--metrics-listen
  // 127.0.0.1:9464: address already in use (...)"), 2 when a listen
  // address is not HOST:PORT.
  int Serve(const std::vector<ServerRuntime::Served>& services,
            const std::function<absl::Status(ProbeConnection&)>& probe, const Hooks& hooks);

 private:
  absl::Status ReadSettings(const ReadOwn& read_own);
  ConnectionSetup StoreSetup() const;

  const ServiceSpec spec_;
  ServiceSettings settings_;
  TlsSettings tls_;
  std::optional<ServerRuntime> runtime_;
  std::optional<ProbeConnection> probe_;  // before runtime_ ends: its probe thread uses it
};

}  // namespace booking

#endif  // BOOKING_COMMON_SERVICE_STARTUP_H_
