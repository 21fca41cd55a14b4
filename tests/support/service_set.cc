#include "tests/support/service_set.h"

#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace booking::testing {

std::string BookingServiceBin() { return BOOKING_SERVICE_BIN; }
std::string HistoryServiceBin() { return HISTORY_SERVICE_BIN; }
std::string MigratorBin() { return MIGRATOR_BIN; }

absl::Status WaitServing(const std::string& target, absl::Duration timeout) {
  // Retry connecting quickly: the server is expected within moments.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
  const absl::Time deadline = absl::Now() + timeout;
  std::string last = "no answer";
  while (absl::Now() < deadline) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    context.set_wait_for_ready(true);  // wait for the server to listen
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status status = stub->Check(&context, request, &response);
    if (status.ok() && response.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      return absl::OkStatus();
    }
    last = status.ok()
               ? grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status())
               : status.error_message();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return absl::DeadlineExceededError(absl::StrCat(target, " not SERVING: ", last));
}

absl::StatusOr<std::unique_ptr<ServiceSet>> ServiceSet::Create(PgCluster& pg,
                                                               const std::string& prefix) {
  std::unique_ptr<ServiceSet> s(new ServiceSet());
  absl::StatusOr<std::string> booking = pg.CreateDatabase(prefix + "_booking");
  if (!booking.ok()) return booking.status();
  absl::StatusOr<std::string> history = pg.CreateDatabase(prefix + "_history");
  if (!history.ok()) return history.status();
  s->booking_url_ = *booking;
  s->history_url_ = *history;
  s->log_dir_ = absl::StrCat(pg.dir(), "/", prefix);
  std::filesystem::create_directories(s->log_dir_);
  s->tokens_file_ = s->log_dir_ + "/tokens";
  std::ofstream(s->tokens_file_) << "# principal token\n" << kPrincipal << " " << kToken << "\n";
  const std::string log = s->log_dir_ + "/migrator.log";
  absl::StatusOr<int> rc = RunCommand(
      {MigratorBin(), "up"},
      {"BOOKING_DATABASE_URL=" + s->booking_url_, "HISTORY_DATABASE_URL=" + s->history_url_}, log);
  if (!rc.ok() || *rc != 0) {
    return absl::InternalError(absl::StrCat("migrator up failed:\n", ReadFile(log)));
  }
  s->booking_port_ = FreePort();
  s->history_port_ = FreePort();
  return s;
}

absl::StatusOr<std::unique_ptr<ServiceSet>> ServiceSet::CreateAndStart(PgCluster& pg,
                                                                       const std::string& prefix) {
  absl::StatusOr<std::unique_ptr<ServiceSet>> s = Create(pg, prefix);
  if (!s.ok()) return s;
  for (absl::Status started : {(*s)->StartHistory(), (*s)->StartBooking()}) {
    if (!started.ok()) {
      return absl::Status(started.code(), absl::StrCat(started.message(), "\n", (*s)->Logs()));
    }
  }
  return s;
}

std::string ServiceSet::booking_target() const { return absl::StrCat("127.0.0.1:", booking_port_); }
std::string ServiceSet::history_target() const { return absl::StrCat("127.0.0.1:", history_port_); }

std::string ServiceSet::Logs() const {
  return absl::StrCat("--- booking-service ---\n", ReadFile(log_dir_ + "/booking.log"),
                      "--- history-service ---\n", ReadFile(log_dir_ + "/history.log"));
}

absl::Status ServiceSet::StartHistory() {
  absl::StatusOr<Process> p =
      Process::Spawn({HistoryServiceBin(), "--listen", history_target(), "--database-url",
                      history_url_, "--drain-timeout", "5s"},
                     {}, log_dir_ + "/history.log");
  if (!p.ok()) return p.status();
  history_ = *std::move(p);
  return WaitServing(history_target(), absl::Seconds(30));
}

absl::Status ServiceSet::StartBooking(const std::vector<std::string>& extra_flags) {
  std::vector<std::string> argv = {BookingServiceBin(), "--listen",           booking_target(),
                                   "--database-url",    booking_url_,         "--history-target",
                                   history_target(),    "--auth-tokens-file", tokens_file_};
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  absl::StatusOr<Process> p = Process::Spawn(argv, {}, log_dir_ + "/booking.log");
  if (!p.ok()) return p.status();
  booking_ = *std::move(p);
  return WaitServing(booking_target(), absl::Seconds(30));
}

namespace {
absl::StatusOr<int> StopProcess(std::optional<Process>& p, int signal) {
  if (!p.has_value()) return absl::FailedPreconditionError("not started");
  p->Signal(signal);
  absl::StatusOr<int> rc = p->Wait(absl::Seconds(30));
  p.reset();
  return rc;
}
}  // namespace

absl::StatusOr<int> ServiceSet::StopHistory(int signal) { return StopProcess(history_, signal); }
absl::StatusOr<int> ServiceSet::StopBooking(int signal) { return StopProcess(booking_, signal); }

}  // namespace booking::testing
