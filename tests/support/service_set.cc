#include "tests/support/service_set.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "tests/support/metrics_scrape.h"
#include "tests/support/wait.h"

namespace booking::testing {

std::string BookingServiceBin() { return BOOKING_SERVICE_BIN; }
std::string HistoryServiceBin() { return HISTORY_SERVICE_BIN; }
std::string MigratorBin() {
  // MIGRATOR_UNDER_TEST runs a suite against another build (e.g. an older
  // one, to see a test fail where the bug it guards against lives).
  const char* other = std::getenv("MIGRATOR_UNDER_TEST");
  return other != nullptr ? other : MIGRATOR_BIN;
}

absl::Status WaitServing(const std::string& target, absl::Duration timeout,
                         std::shared_ptr<grpc::ChannelCredentials> credentials) {
  // Retry connecting quickly: the server is expected within moments.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  if (credentials == nullptr) credentials = grpc::InsecureChannelCredentials();
  auto stub =
      grpc::health::v1::Health::NewStub(grpc::CreateCustomChannel(target, credentials, args));
  return WaitFor(
      [&]() -> absl::Status {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
        context.set_wait_for_ready(true);  // wait for the server to listen
        grpc::health::v1::HealthCheckRequest request;
        grpc::health::v1::HealthCheckResponse response;
        grpc::Status status = stub->Check(&context, request, &response);
        if (!status.ok()) return absl::UnavailableError(status.error_message());
        if (response.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
          return absl::OkStatus();
        }
        return absl::UnavailableError(
            grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()));
      },
      timeout, absl::StrCat(target, " SERVING"), absl::Milliseconds(100));
}

namespace {

// SERVING at `target` within 30 s; an error at once when `process` exits.
absl::Status WaitStarted(Process& process, const std::string& target,
                         const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  absl::Status serving;
  do {
    if (!process.Running()) {
      return absl::FailedPreconditionError(absl::StrCat("exited before serving ", target));
    }
    serving = WaitServing(target, absl::Seconds(1), credentials);
  } while (!serving.ok() && absl::Now() < deadline);
  return serving;
}

}  // namespace

absl::StatusOr<bool> IsServing(const std::string& target, const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) return absl::UnavailableError(status.error_message());
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
}

absl::Status WaitHealth(const std::string& target, bool serving, absl::Duration timeout,
                        const std::string& service) {
  return WaitFor(
      [&]() -> absl::Status {
        absl::StatusOr<bool> now = IsServing(target, service);
        if (!now.ok()) return now.status();
        if (*now == serving) return absl::OkStatus();
        return absl::UnavailableError(*now ? "SERVING" : "NOT_SERVING");
      },
      timeout,
      absl::StrCat(target, " (service \"", service, "\") ", serving ? "SERVING" : "NOT_SERVING"),
      absl::Milliseconds(100));
}

absl::StatusOr<double> ScrapeMetric(const std::string& target, const std::string& name) {
  absl::StatusOr<std::vector<MetricSample>> samples = ScrapeSamples(target);
  if (!samples.ok()) return samples.status();
  // `name` may carry labels (name{reason="gap"}): read as a sample line.
  const std::vector<MetricSample> selector = ParseMetricsText(absl::StrCat(name, " 0"));
  if (selector.size() != 1) return absl::InvalidArgumentError(absl::StrCat("not a metric: ", name));
  const std::string& base = selector[0].name;
  const auto& labels = selector[0].labels;
  const bool served = std::any_of(samples->begin(), samples->end(), [&](const MetricSample& s) {
    return s.name == base &&
           std::includes(s.labels.begin(), s.labels.end(), labels.begin(), labels.end());
  });
  if (!served) return absl::NotFoundError(absl::StrCat(name, " not served by ", target));
  return SumOf(*samples, base, labels);
}

absl::StatusOr<std::unique_ptr<ServiceSet>> ServiceSet::Create(DatabaseServer& pg,
                                                               const std::string& prefix) {
  return Create(pg, pg, prefix);
}

absl::StatusOr<std::unique_ptr<ServiceSet>> ServiceSet::CreateSeeded(
    DatabaseServer& pg, const std::string& prefix, const std::string& booking_seed,
    const std::vector<std::string>& psql_vars) {
  return Create(pg, pg, prefix, booking_seed, psql_vars);
}

absl::StatusOr<std::unique_ptr<ServiceSet>> ServiceSet::Create(DatabaseServer& booking_pg,
                                                               DatabaseServer& history_pg,
                                                               const std::string& prefix) {
  return Create(booking_pg, history_pg, prefix, "", {});
}

absl::StatusOr<std::unique_ptr<ServiceSet>> ServiceSet::Create(
    DatabaseServer& booking_pg, DatabaseServer& history_pg, const std::string& prefix,
    const std::string& booking_seed, const std::vector<std::string>& psql_vars) {
  std::unique_ptr<ServiceSet> s(new ServiceSet());
  absl::StatusOr<std::string> booking = booking_pg.CreateDatabase(prefix + "_booking");
  if (!booking.ok()) return booking.status();
  if (!booking_seed.empty()) {
    const std::vector<std::string> argv = PsqlFileCommand(*booking, booking_seed, psql_vars);
    const std::string seed_log = absl::StrCat(booking_pg.dir(), "/", prefix, "-seed.log");
    absl::StatusOr<int> seeded = RunCommand(argv, {}, seed_log);
    if (!seeded.ok() || *seeded != 0) {
      return absl::InternalError(absl::StrCat("seeding failed:\n", ReadFile(seed_log)));
    }
  }
  absl::StatusOr<std::string> history = history_pg.CreateDatabase(prefix + "_history");
  if (!history.ok()) return history.status();
  s->booking_url_ = *booking;
  s->history_url_ = *history;
  s->log_dir_ = absl::StrCat(booking_pg.dir(), "/", prefix);
  std::filesystem::create_directories(s->log_dir_);
  s->tokens_file_ = s->log_dir_ + "/tokens";
  std::ofstream(s->tokens_file_) << "# principal token\n" << kPrincipal << " " << kToken << "\n";
  // One page-token key for every start of this set's history-service: its
  // tokens hold across a restart, as a deployment's do.
  std::ofstream(s->log_dir_ + "/page-token-key")
      << "test-page-token-key-" << prefix << "-0123456789abcdef\n";
  const std::string log = s->log_dir_ + "/migrator.log";
  absl::StatusOr<int> rc = RunCommand(
      {MigratorBin(), "up"},
      {"BOOKING_DATABASE_URL=" + s->booking_url_, "HISTORY_DATABASE_URL=" + s->history_url_}, log);
  if (!rc.ok() || *rc != 0) {
    return absl::InternalError(absl::StrCat("migrator up failed:\n", ReadFile(log)));
  }
  s->bookings_[0] = Instance{FreePort(), FreePort(), 0, std::nullopt};
  s->history_.port = FreePort();
  s->history_.metrics_port = FreePort();
  return s;
}

absl::StatusOr<std::unique_ptr<ServiceSet>> ServiceSet::CreateAndStart(DatabaseServer& pg,
                                                                       const std::string& prefix) {
  return CreateAndStart(pg, pg, prefix);
}

absl::StatusOr<std::unique_ptr<ServiceSet>> ServiceSet::CreateAndStart(DatabaseServer& booking_pg,
                                                                       DatabaseServer& history_pg,
                                                                       const std::string& prefix) {
  return CreateAndStart(booking_pg, history_pg, prefix, Options());
}

absl::StatusOr<std::unique_ptr<ServiceSet>> ServiceSet::CreateAndStart(DatabaseServer& booking_pg,
                                                                       DatabaseServer& history_pg,
                                                                       const std::string& prefix,
                                                                       Options options) {
  absl::StatusOr<std::unique_ptr<ServiceSet>> s = Create(booking_pg, history_pg, prefix);
  if (!s.ok()) return s;
  ServiceSet& set = **s;
  set.options_ = std::move(options);
  std::vector<absl::Status> starts;
  if (set.options_.start_history) starts.push_back(set.StartHistory());
  for (int replica = 0; replica < set.options_.booking_replicas; ++replica) {
    starts.push_back(set.StartBookingReplica(replica));
  }
  for (const absl::Status& started : starts) {
    if (!started.ok()) {
      return absl::Status(started.code(), absl::StrCat(started.message(), "\n", set.Logs()));
    }
  }
  return s;
}

namespace {
std::string Local(int port) { return absl::StrCat("127.0.0.1:", port); }
}  // namespace

std::string ServiceSet::booking_target(int replica) const {
  auto it = bookings_.find(replica);
  return Local(it == bookings_.end() ? 0 : it->second.port);
}
std::string ServiceSet::booking_targets() const {
  return absl::StrCat("ipv4:", absl::StrJoin(bookings_, ",", [](std::string* out, const auto& b) {
                        absl::StrAppend(out, Local(b.second.port));
                      }));
}
std::string ServiceSet::history_target() const { return Local(history_.port); }
std::string ServiceSet::booking_metrics_target(int replica) const {
  auto it = bookings_.find(replica);
  return Local(it == bookings_.end() ? 0 : it->second.metrics_port);
}
std::string ServiceSet::history_metrics_target() const { return Local(history_.metrics_port); }
std::string ServiceSet::booking_health_target(int replica) const {
  auto it = bookings_.find(replica);
  return Local(it == bookings_.end() ? 0 : it->second.health_port);
}
std::string ServiceSet::history_health_target() const { return Local(history_.health_port); }

std::string ServiceSet::BookingLog(int replica) const {
  return replica == 0 ? log_dir_ + "/booking.log"
                      : absl::StrCat(log_dir_, "/booking-", replica, ".log");
}

std::string ServiceSet::Logs() const {
  std::string out;
  for (const auto& [replica, instance] : bookings_) {
    absl::StrAppend(&out, "--- booking-service replica ", replica, " ---\n",
                    ReadFile(BookingLog(replica)));
  }
  absl::StrAppend(&out, "--- history-service ---\n", ReadFile(log_dir_ + "/history.log"));
  return out;
}

void ServiceSet::SetSecurity(std::vector<std::string> history_flags,
                             std::vector<std::string> booking_flags,
                             std::shared_ptr<grpc::ChannelCredentials> credentials) {
  history_security_ = std::move(history_flags);
  booking_security_ = std::move(booking_flags);
  credentials_ = std::move(credentials);
}

absl::Status ServiceSet::Launch(Instance& instance, std::vector<std::string> argv,
                                const std::string& target, const std::string& log) {
  if (options_.health_ports) {
    if (instance.health_port == 0) instance.health_port = FreePort();
    argv.insert(argv.end(), {"--health-listen", Local(instance.health_port)});
  }
  absl::StatusOr<Process> p = Process::Spawn(argv, {}, log);
  if (!p.ok()) return p.status();
  instance.process = *std::move(p);
  absl::Status serving = WaitStarted(*instance.process, target, credentials_);
  if (serving.ok() && options_.health_ports) {
    serving = WaitServing(Local(instance.health_port), absl::Seconds(30));
  }
  return serving;
}

absl::Status ServiceSet::StartHistory(const std::vector<std::string>& extra_flags) {
  std::vector<std::string> argv = options_.history_launcher;
  argv.insert(argv.end(),
              {HistoryServiceBin(), "--listen", history_target(), "--database-url", history_url_,
               "--drain-timeout", "5s", "--metrics-listen", history_metrics_target()});
  argv.insert(argv.end(), {"--page-token-key", log_dir_ + "/page-token-key"});
  for (const std::vector<std::string>& flags :
       {history_security_, options_.history_flags, extra_flags}) {
    argv.insert(argv.end(), flags.begin(), flags.end());
  }
  return Launch(history_, std::move(argv), history_target(), log_dir_ + "/history.log");
}

absl::Status ServiceSet::StartBooking(const std::vector<std::string>& extra_flags) {
  return StartBookingReplica(0, extra_flags);
}

absl::Status ServiceSet::StartBookingReplica(int replica,
                                             const std::vector<std::string>& extra_flags) {
  Instance& b = bookings_[replica];
  if (b.port == 0) {
    b.port = FreePort();
    b.metrics_port = FreePort();
  }
  std::vector<std::string> argv = {BookingServiceBin(),
                                   "--listen",
                                   booking_target(replica),
                                   "--database-url",
                                   booking_url_,
                                   "--history-target",
                                   history_target(),
                                   "--auth-tokens-file",
                                   tokens_file_,
                                   "--metrics-listen",
                                   booking_metrics_target(replica)};
  for (const std::vector<std::string>& flags :
       {booking_security_, options_.booking_flags, extra_flags}) {
    argv.insert(argv.end(), flags.begin(), flags.end());
  }
  return Launch(b, std::move(argv), booking_target(replica), BookingLog(replica));
}

namespace {
absl::StatusOr<int> StopProcess(std::optional<Process>& p, int signal) {
  if (!p.has_value()) return absl::FailedPreconditionError("not started");
  p->Signal(signal);
  absl::StatusOr<int> rc = p->Wait(absl::Seconds(30));
  p.reset();
  return rc;
}
absl::StatusOr<int> WaitProcess(std::optional<Process>& p, absl::Duration timeout) {
  if (!p.has_value()) return absl::FailedPreconditionError("not started");
  absl::StatusOr<int> rc = p->Wait(timeout);
  if (rc.ok()) p.reset();
  return rc;
}
}  // namespace

absl::StatusOr<int> ServiceSet::StopHistory(int signal) {
  return StopProcess(history_.process, signal);
}
absl::StatusOr<int> ServiceSet::StopBooking(int signal) { return StopBookingReplica(0, signal); }
absl::StatusOr<int> ServiceSet::StopBookingReplica(int replica, int signal) {
  return StopProcess(bookings_[replica].process, signal);
}
void ServiceSet::SignalHistory(int signal) {
  if (history_.process.has_value()) history_.process->Signal(signal);
}
absl::StatusOr<int> ServiceSet::WaitHistory(absl::Duration timeout) {
  return WaitProcess(history_.process, timeout);
}
void ServiceSet::SignalBookingReplica(int replica, int signal) {
  auto& p = bookings_[replica].process;
  if (p.has_value()) p->Signal(signal);
}
absl::StatusOr<int> ServiceSet::WaitBookingReplica(int replica, absl::Duration timeout) {
  return WaitProcess(bookings_[replica].process, timeout);
}

pid_t ServiceSet::history_pid() const {
  return history_.process.has_value() ? history_.process->pid() : -1;
}
bool ServiceSet::HistoryRunning() {
  return history_.process.has_value() && history_.process->Running();
}
bool ServiceSet::BookingRunning(int replica) {
  auto& p = bookings_[replica].process;
  return p.has_value() && p->Running();
}

pid_t ServiceSet::booking_pid(int replica) const {
  const auto it = bookings_.find(replica);
  if (it == bookings_.end() || !it->second.process.has_value()) return -1;
  return it->second.process->pid();
}

}  // namespace booking::testing
