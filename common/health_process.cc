#include "common/health_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/server_runtime.h"

namespace booking {
namespace {

// argv[1] of a health process; never typed by a person.
constexpr char kModeFlag[] = "--internal-health-process";
constexpr absl::Duration kStartTimeout = absl::Seconds(10);
constexpr absl::Duration kExitTimeout = absl::Seconds(5);
constexpr absl::Duration kPollEvery = absl::Milliseconds(500);
constexpr char kServing = 'S', kNotServing = 'N';

absl::Status ErrnoError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// The health process's first line: "port N" once it listens, or "error TEXT".
absl::StatusOr<int> ReadStartLine(int fd, pid_t pid) {
  std::string line;
  const absl::Time deadline = absl::Now() + kStartTimeout;
  while (!absl::EndsWith(line, "\n")) {
    pollfd p{fd, POLLIN, 0};
    const int left = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (left <= 0) {
      return absl::DeadlineExceededError(absl::StrCat("the health process (pid ", pid,
                                                      ") did not listen within ",
                                                      absl::FormatDuration(kStartTimeout)));
    }
    const int ready = poll(&p, 1, left);
    if (ready < 0 && errno != EINTR) return ErrnoError("poll");
    if (ready <= 0) continue;
    char c;
    const ssize_t n = read(fd, &c, 1);
    if (n == 0) {
      return absl::UnavailableError(
          absl::StrCat("the health process (pid ", pid, ") exited before it listened"));
    }
    if (n < 0 && errno != EINTR && errno != EAGAIN) return ErrnoError("read");
    if (n == 1) line.push_back(c);
  }
  absl::string_view text(line.data(), line.size() - 1);
  int port = 0;
  if (absl::ConsumePrefix(&text, "port ") && absl::SimpleAtoi(text, &port)) return port;
  absl::ConsumePrefix(&text, "error ");
  return absl::FailedPreconditionError(text);
}

void WriteLine(int fd, const std::string& line) {
  for (size_t done = 0; done < line.size();) {
    const ssize_t n = send(fd, line.data() + done, line.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the service is gone: nothing to tell
    done += static_cast<size_t>(n);
  }
}

// The health process's life: serve, follow the service's verdicts, end with
// the service.
int ServeHealth(const std::string& listen, std::vector<std::string> services, ScopedFd service) {
  // The service drains on SIGTERM and closes the socket when done; until
  // then probes must keep getting answers.
  signal(SIGTERM, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  sigset_t all;
  sigemptyset(&all);
  pthread_sigmask(SIG_SETMASK, &all, nullptr);

  ServerConfig config;
  config.listen = listen;
  ServerRuntime runtime(std::move(config));
  const absl::Status started = runtime.StartHealthOnly(std::move(services));
  WriteLine(service.get(), started.ok() ? absl::StrCat("port ", runtime.port(), "\n")
                                        : absl::StrCat("error ", started.message(), "\n"));
  if (!started.ok()) return 1;

  bool serving = false;
  bool live = true;
  absl::Time heard = absl::Now();
  for (;;) {
    pollfd p{service.get(), POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(kPollEvery)));
    if (ready > 0) {
      char verdicts[64];
      const ssize_t n = read(service.get(), verdicts, sizeof(verdicts));
      if (n == 0) break;  // the service ended
      if (n < 0 && errno != EINTR && errno != EAGAIN) break;
      if (n > 0) {
        serving = verdicts[n - 1] == kServing;
        heard = absl::Now();
      }
    }
    const bool live_now = absl::Now() - heard < HealthProcess::kStaleAfter;
    if (live_now != live) {
      live = live_now;
      if (!live) {
        LogError("the service has sent no verdict for too long: liveness NOT_SERVING",
                 {{"silent_for", absl::FormatDuration(absl::Now() - heard)}});
      }
    }
    runtime.SetHealth(live, live && serving);
  }
  return 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HealthProcess>> HealthProcess::Spawn(
    const std::string& listen, const std::vector<std::string>& services) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return ErrnoError("socketpair for the health process");
  }
  ScopedFd ours(fds[0]), theirs(fds[1]);
  const std::vector<std::string> args = {"health-process", kModeFlag,
                                         absl::StrCat("--listen=", listen),
                                         absl::StrCat("--services=", absl::StrJoin(services, ",")),
                                         absl::StrCat("--service-fd=", theirs.get())};
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return ErrnoError("fork for the health process");
  if (pid == 0) {
    // Only async-signal-safe calls until exec. Killed when this thread ends
    // (Spawn runs on the main thread, which ends with the process).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    fcntl(theirs.get(), F_SETFD, 0);  // the one fd it keeps
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  theirs.reset();
  absl::StatusOr<int> port = ReadStartLine(ours.get(), pid);
  if (!port.ok()) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    // Its own error names --health-listen and the address already.
    if (absl::StartsWith(port.status().message(), "--health-listen")) return port.status();
    return absl::Status(port.status().code(), absl::StrCat("cannot serve health on ", listen, ": ",
                                                           port.status().message()));
  }
  return std::make_unique<HealthProcess>(Token(), pid, std::move(ours), *port);
}

std::optional<int> HealthProcess::RunIfAsked(int argc, char** argv) {
  if (argc < 2 || absl::string_view(argv[1]) != kModeFlag) return std::nullopt;
  std::string listen;
  std::vector<std::string> services;
  int fd = -1;
  for (int i = 2; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--listen=")) listen = std::string(arg);
    if (absl::ConsumePrefix(&arg, "--services=")) {
      services = absl::StrSplit(arg, ',', absl::SkipEmpty());
    }
    if (absl::ConsumePrefix(&arg, "--service-fd=") && !absl::SimpleAtoi(arg, &fd)) fd = -1;
  }
  if (listen.empty() || fd < 0) {
    LogError("a health process is started by its service, not by hand");
    return 2;
  }
  return ServeHealth(listen, std::move(services), ScopedFd(fd));
}

HealthProcess::HealthProcess(Token, pid_t pid, ScopedFd socket, int port)
    : pid_(pid), socket_(std::move(socket)), port_(port) {
  heartbeat_ = std::thread([this] { HeartbeatLoop(); });
}

HealthProcess::~HealthProcess() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  heartbeat_.join();
  socket_.reset();  // the health process sees the end and exits
  const absl::Time deadline = absl::Now() + kExitTimeout;
  while (waitpid(pid_, nullptr, WNOHANG) == 0) {
    if (absl::Now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      return;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

void HealthProcess::Report(bool serving) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (serving_ == serving && reported_) return;
    serving_ = serving;
    reported_ = false;
  }
  changed_.notify_all();
}

void HealthProcess::HeartbeatLoop() {
  bool warned = false;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    const char verdict = serving_ ? kServing : kNotServing;
    reported_ = true;
    lock.unlock();
    if (send(socket_.get(), &verdict, 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN &&
        !warned) {
      LogError("the health process is gone: probes of the health port fail until a restart",
               {{"pid", absl::StrCat(pid_)}, {"error", std::strerror(errno)}});
      warned = true;
    }
    lock.lock();
    changed_.wait_for(lock, absl::ToChronoMilliseconds(kHeartbeat),
                      [this] { return stopping_ || !reported_; });
  }
}

}  // namespace booking
