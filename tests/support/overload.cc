#include "tests/support/overload.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/support/wait.h"

namespace booking::testing {

HealthWatch::HealthWatch(const std::string& target, std::string log_path, absl::Duration interval)
    : log_path_(std::move(log_path)) {
  absl::StatusOr<Process> p = Process::Spawn(
      {HEALTH_WATCH_BIN, target, absl::StrCat(absl::ToInt64Milliseconds(interval))}, {}, log_path_);
  if (p.ok()) process_ = *std::move(p);
}

std::vector<std::string> HealthWatch::Lines() const {
  std::vector<std::string> lines = absl::StrSplit(ReadFile(log_path_), '\n', absl::SkipEmpty());
  return lines;
}

HealthWatch::Figures HealthWatch::Take() {
  const std::vector<std::string> lines = Lines();
  Figures out;
  std::vector<double> latencies;
  for (size_t i = taken_; i < lines.size(); ++i) {
    std::vector<std::string> f = absl::StrSplit(lines[i], absl::MaxSplits(' ', 3));
    double ms = 0, lag = 0;
    int64_t at = 0;
    if (f.size() != 4 || !absl::SimpleAtod(f[0], &ms) || !absl::SimpleAtod(f[1], &lag) ||
        !absl::SimpleAtoi(f[2], &at)) {
      continue;
    }
    out.max_wake_lag_ms = std::max(out.max_wake_lag_ms, lag);
    if (f[3] == "SERVING") {
      ++out.answers;
      latencies.push_back(ms);
      if (ms >= out.max_ms) {
        out.max_ms = ms;
        out.max_at = absl::FromUnixMillis(at);
      }
    } else if (out.failures++ == 0) {
      out.first_failure = absl::StrCat(f[3], " after ", f[0], " ms");
    }
  }
  taken_ = lines.size();
  std::sort(latencies.begin(), latencies.end());
  if (!latencies.empty()) out.p50_ms = latencies[latencies.size() / 2];
  return out;
}

bool HealthWatch::WaitChecks(int n, absl::Duration timeout) {
  const size_t until = Lines().size() + n;
  bool stopped = false;
  const absl::Status seen = WaitFor(
      [&] {
        stopped = !process_.has_value() || !process_->Running();
        return stopped || Lines().size() >= until;
      },
      timeout, "health checks");
  return seen.ok() && Lines().size() >= until;
}

int64_t ProcStatusValue(pid_t pid, const std::string& field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) != 0) continue;
    std::istringstream words(line.substr(field.size() + 1));
    int64_t value = -1;
    words >> value;
    return value;
  }
  return -1;
}

PeakSampler::PeakSampler(std::vector<pid_t> pids)
    : pids_(std::move(pids)),
      rss_(pids_.size(), 0),
      start_rss_(pids_.size(), 0),
      threads_(pids_.size(), 0),
      thread_([this] { Run(); }) {}

PeakSampler::~PeakSampler() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void PeakSampler::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    for (size_t i = 0; i < pids_.size(); ++i) {
      rss_[i] = std::max(rss_[i], ProcStatusValue(pids_[i], "VmRSS") * 1024);
      threads_[i] = std::max<int>(threads_[i], ProcStatusValue(pids_[i], "Threads"));
    }
    cv_.wait_for(lock, std::chrono::milliseconds(20), [this] { return stop_; });
  }
}

void PeakSampler::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < pids_.size(); ++i) {
    // "5" resets the peak RSS the kernel keeps (VmHWM) to the current RSS.
    std::ofstream(absl::StrCat("/proc/", pids_[i], "/clear_refs")) << "5";
    rss_[i] = 0;
    threads_[i] = 0;
    start_rss_[i] = ProcStatusValue(pids_[i], "VmRSS") * 1024;
  }
}

int64_t PeakSampler::PeakRssBytes(size_t i) {
  std::lock_guard<std::mutex> lock(mu_);
  return std::max(rss_[i], ProcStatusValue(pids_[i], "VmHWM") * 1024);
}

int64_t PeakSampler::StartRssBytes(size_t i) {
  std::lock_guard<std::mutex> lock(mu_);
  return start_rss_[i];
}

int PeakSampler::PeakThreads(size_t i) {
  std::lock_guard<std::mutex> lock(mu_);
  return threads_[i];
}

std::shared_ptr<grpc::Channel> OwnChannel(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

std::chrono::system_clock::time_point In(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
}

absl::Status NewConnectionServes(const std::string& target, absl::Duration timeout) {
  const absl::Status served = WaitFor(
      [&]() -> absl::Status {
        auto stub = grpc::health::v1::Health::NewStub(OwnChannel(target));
        grpc::ClientContext context;
        context.set_deadline(In(absl::Seconds(1)));
        grpc::health::v1::HealthCheckResponse response;
        const grpc::Status s = stub->Check(&context, {}, &response);
        return s.ok() ? absl::OkStatus() : absl::UnavailableError(s.error_message());
      },
      timeout, absl::StrCat(target, " to take a new connection"), absl::Milliseconds(50));
  if (!served.ok()) return absl::UnavailableError(served.message());
  return absl::OkStatus();
}

void Outcomes::Record(grpc::StatusCode code) {
  std::lock_guard<std::mutex> lock(mu_);
  ++codes_[code];
  if (--remaining_ == 0) cv_.notify_all();
}

bool Outcomes::WaitAll(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout), [&] { return remaining_ <= 0; });
}

int Outcomes::Count(grpc::StatusCode code) {
  std::lock_guard<std::mutex> lock(mu_);
  return codes_[code];
}

std::string Outcomes::Text() {
  std::lock_guard<std::mutex> lock(mu_);
  return absl::StrJoin(codes_, ", ", [](std::string* out, const auto& c) {
    absl::StrAppend(out, "code ", static_cast<int>(c.first), ": ", c.second);
  });
}

namespace {

// The child: only async-signal-safe calls (the parent has threads). Writes
// {connected, failed} to `result_fd`, then holds the connections until killed.
[[noreturn]] void HoldConnections(const sockaddr_in& addr, int count, int result_fd) {
  // Nothing of the parent's: its sockets stay the parent's alone.
  if (result_fd > 3) close_range(3, result_fd - 1, 0);
  close_range(result_fd + 1, ~0U, 0);
  int result[2] = {0, 0};
  const timeval timeout{2, 0};  // a connect the server never takes fails
  for (int i = 0; i < count; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    const bool ok =
        fd >= 0 && connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
    ++result[ok ? 0 : 1];
    if (!ok && fd >= 0) close(fd);
  }
  (void)!write(result_fd, result, sizeof(result));
  for (;;) pause();
}

}  // namespace

absl::StatusOr<HeldConnections> HeldConnections::Open(int port, int count, absl::Duration timeout) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return absl::InternalError("pipe2 failed");
  HeldConnections held;
  held.pid_ = fork();
  if (held.pid_ == 0) HoldConnections(addr, count, pipe_fds[1]);
  close(pipe_fds[1]);
  if (held.pid_ < 0) {
    close(pipe_fds[0]);
    return absl::InternalError("fork failed");
  }
  pollfd p{pipe_fds[0], POLLIN, 0};
  int result[2] = {0, 0};
  const bool done = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) == 1 &&
                    read(pipe_fds[0], result, sizeof(result)) == sizeof(result);
  close(pipe_fds[0]);
  if (!done) {
    return absl::DeadlineExceededError(absl::StrCat(
        count, " connections to port ", port, " not tried within ", absl::FormatDuration(timeout)));
  }
  held.connected_ = result[0];
  held.failed_ = result[1];
  return held;
}

HeldConnections::HeldConnections(HeldConnections&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), connected_(other.connected_), failed_(other.failed_) {}

HeldConnections::~HeldConnections() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
}

}  // namespace booking::testing
