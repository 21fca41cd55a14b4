// The real binaries around one DatabaseServer (or two: the booking store on one
// server, the history store on another, so that each can be restarted on its
// own): migrator up on fresh booking and history databases, then
// history-service and one or more booking-service replicas on free ports,
// each with a /metrics endpoint.
#ifndef TESTS_SUPPORT_SERVICE_SET_H_
#define TESTS_SUPPORT_SERVICE_SET_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "tests/support/database_server.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/process.h"

namespace booking::testing {

// Paths of the binaries under test (set by CMake).
std::string BookingServiceBin();
std::string HistoryServiceBin();
std::string MigratorBin();

// SERVING from grpc.health.v1.Health at `target` ("" = whole server) within
// `timeout`.
absl::Status WaitServing(const std::string& target, absl::Duration timeout,
                         std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr);

// The health status at `target` of `service` ("" = the whole server): true
// SERVING, false NOT_SERVING; an error when it does not answer within a
// second.
absl::StatusOr<bool> IsServing(const std::string& target, const std::string& service = "");
// Polls IsServing until it is `serving` or `timeout` passes.
absl::Status WaitHealth(const std::string& target, bool serving, absl::Duration timeout,
                        const std::string& service = "");

// The sum of every sample of `name` (all label sets; or, for
// `name{k="v",...}`, those with these labels) on the Prometheus endpoint at
// HOST:PORT; NOT_FOUND when none is served.
absl::StatusOr<double> ScrapeMetric(const std::string& target, const std::string& name);

class ServiceSet {
 public:
  // Tokens file entries: principal, token.
  static constexpr char kPrincipal[] = "dispatcher@test";
  static constexpr char kToken[] = "token-dispatcher";

  // How the services run beyond the defaults, for every start of each.
  struct Options {
    std::vector<std::string> history_flags = {};  // added to history-service's
    std::vector<std::string> booking_flags = {};  // added to every replica's
    // Put before history-service's command (e.g. prlimit and its limits).
    std::vector<std::string> history_launcher = {};
    // Each service also serves a health port (--health-listen, plaintext),
    // SERVING before a start returns.
    bool health_ports = false;
    // What CreateAndStart starts: history-service, then this many
    // booking-service replicas (0, 1, ...).
    bool start_history = true;
    int booking_replicas = 1;
  };

  // Creates databases "<prefix>_booking" and "<prefix>_history" and runs
  // `migrator up` on them.
  static absl::StatusOr<std::unique_ptr<ServiceSet>> Create(DatabaseServer& pg,
                                                            const std::string& prefix);
  // The booking database on `booking_pg`, the history database on
  // `history_pg`.
  static absl::StatusOr<std::unique_ptr<ServiceSet>> Create(DatabaseServer& booking_pg,
                                                            DatabaseServer& history_pg,
                                                            const std::string& prefix);

  // Create, with the booking database first loaded from the psql file
  // `booking_seed` (with -v `psql_vars`): a store as production has it.
  static absl::StatusOr<std::unique_ptr<ServiceSet>> CreateSeeded(
      DatabaseServer& pg, const std::string& prefix, const std::string& booking_seed,
      const std::vector<std::string>& psql_vars);

  // Create, then both services started.
  static absl::StatusOr<std::unique_ptr<ServiceSet>> CreateAndStart(DatabaseServer& pg,
                                                                    const std::string& prefix);
  static absl::StatusOr<std::unique_ptr<ServiceSet>> CreateAndStart(DatabaseServer& booking_pg,
                                                                    DatabaseServer& history_pg,
                                                                    const std::string& prefix);
  // With `options` (kept for every later start).
  static absl::StatusOr<std::unique_ptr<ServiceSet>> CreateAndStart(DatabaseServer& booking_pg,
                                                                    DatabaseServer& history_pg,
                                                                    const std::string& prefix,
                                                                    Options options);
  static absl::StatusOr<std::unique_ptr<ServiceSet>> CreateAndStart(DatabaseServer& pg,
                                                                    const std::string& prefix,
                                                                    Options options) {
    return CreateAndStart(pg, pg, prefix, std::move(options));
  }

  // How the services are secured from the next start on: flags given to each
  // (default: --insecure-plaintext) and the credentials the set's own health
  // checks connect with (default: plaintext).
  void SetSecurity(std::vector<std::string> history_flags, std::vector<std::string> booking_flags,
                   std::shared_ptr<grpc::ChannelCredentials> credentials);

  absl::Status StartHistory(const std::vector<std::string>& extra_flags = {});
  // Replica 0 of booking-service.
  absl::Status StartBooking(const std::vector<std::string>& extra_flags = {});
  // Replica `replica` (0, 1, ...): its own ports and log, the same stores.
  absl::Status StartBookingReplica(int replica, const std::vector<std::string>& extra_flags = {});
  // Sends `signal` and waits for the exit; returns the exit code.
  absl::StatusOr<int> StopHistory(int signal);
  absl::StatusOr<int> StopBooking(int signal);
  absl::StatusOr<int> StopBookingReplica(int replica, int signal);
  // Sends `signal` without waiting (for a drain in progress); then WaitHistory.
  void SignalHistory(int signal);
  absl::StatusOr<int> WaitHistory(absl::Duration timeout);
  void SignalBookingReplica(int replica, int signal);
  absl::StatusOr<int> WaitBookingReplica(int replica, absl::Duration timeout);
  // The replica's process id; -1 when it is not running.
  pid_t booking_pid(int replica) const;
  pid_t history_pid() const;
  // Whether the process started last is still running (false: it exited).
  bool HistoryRunning();
  bool BookingRunning(int replica = 0);

  const std::string& booking_url() const { return booking_url_; }
  const std::string& history_url() const { return history_url_; }
  std::string booking_target() const { return booking_target(0); }
  std::string booking_target(int replica) const;
  // Every booking replica started so far, as one gRPC target
  // ("ipv4:127.0.0.1:p1,127.0.0.1:p2"), for a round_robin channel.
  std::string booking_targets() const;
  std::string history_target() const;
  std::string booking_metrics_target(int replica = 0) const;
  std::string history_metrics_target() const;
  // The health ports (Options::health_ports).
  std::string booking_health_target(int replica = 0) const;
  std::string history_health_target() const;
  const std::string& log_dir() const { return log_dir_; }
  // The services' logs, for failure messages.
  std::string Logs() const;

 private:
  ServiceSet() = default;
  static absl::StatusOr<std::unique_ptr<ServiceSet>> Create(
      DatabaseServer& booking_pg, DatabaseServer& history_pg, const std::string& prefix,
      const std::string& booking_seed, const std::vector<std::string>& psql_vars);
  struct Instance {
    int port = 0;
    int metrics_port = 0;
    int health_port = 0;  // Options::health_ports
    std::optional<Process> process;
  };
  std::string BookingLog(int replica) const;
  // Spawns `argv` (with the options' health flag) into `instance`; SERVING
  // on `target` (and on its health port) before it returns.
  absl::Status Launch(Instance& instance, std::vector<std::string> argv, const std::string& target,
                      const std::string& log);

  std::string booking_url_, history_url_, log_dir_, tokens_file_;
  std::vector<std::string> history_security_ = {"--insecure-plaintext"};
  std::vector<std::string> booking_security_ = {"--insecure-plaintext"};
  std::shared_ptr<grpc::ChannelCredentials> credentials_;  // null: plaintext
  Options options_;
  std::map<int, Instance> bookings_;  // by replica
  Instance history_;
};

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_SERVICE_SET_H_
