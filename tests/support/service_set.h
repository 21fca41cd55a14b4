// The real binaries around one PgCluster: migrator up on fresh booking and
// history databases, then history-service and booking-service on free ports.
#ifndef TESTS_SUPPORT_SERVICE_SET_H_
#define TESTS_SUPPORT_SERVICE_SET_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/process.h"

namespace booking::testing {

// Paths of the binaries under test (set by CMake).
std::string BookingServiceBin();
std::string HistoryServiceBin();
std::string MigratorBin();

// SERVING from grpc.health.v1.Health at `target` ("" = whole server) within
// `timeout`.
absl::Status WaitServing(const std::string& target, absl::Duration timeout);

class ServiceSet {
 public:
  // Tokens file entries: principal, token.
  static constexpr char kPrincipal[] = "dispatcher@test";
  static constexpr char kToken[] = "token-dispatcher";

  // Creates databases "<prefix>_booking" and "<prefix>_history" and runs
  // `migrator up` on them.
  static absl::StatusOr<std::unique_ptr<ServiceSet>> Create(PgCluster& pg,
                                                            const std::string& prefix);

  // Create, then both services started.
  static absl::StatusOr<std::unique_ptr<ServiceSet>> CreateAndStart(PgCluster& pg,
                                                                    const std::string& prefix);

  absl::Status StartHistory();
  absl::Status StartBooking(const std::vector<std::string>& extra_flags = {});
  // Sends `signal` and waits for the exit; returns the exit code.
  absl::StatusOr<int> StopHistory(int signal);
  absl::StatusOr<int> StopBooking(int signal);

  const std::string& booking_url() const { return booking_url_; }
  const std::string& history_url() const { return history_url_; }
  std::string booking_target() const;
  std::string history_target() const;
  const std::string& log_dir() const { return log_dir_; }
  // The services' logs, for failure messages.
  std::string Logs() const;

 private:
  ServiceSet() = default;
  std::string booking_url_, history_url_, log_dir_, tokens_file_;
  int booking_port_ = 0, history_port_ = 0;
  std::optional<Process> booking_, history_;
};

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_SERVICE_SET_H_
