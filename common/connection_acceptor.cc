#include "common/connection_acceptor.h"

#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace booking {

ScopedFd& ScopedFd::operator=(ScopedFd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

int ScopedFd::release() { return std::exchange(fd_, -1); }

void ScopedFd::reset(int fd) {
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
}

void RaiseOpenFilesLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t was = limit.rlim_cur;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) limit.rlim_cur = was;
  }
  LogInfo("open files limit", {{"soft_at_start", absl::StrCat(was)},
                               {"soft", absl::StrCat(limit.rlim_cur)},
                               {"hard", absl::StrCat(limit.rlim_max)}});
}

namespace {

constexpr absl::Duration kRecount = absl::Milliseconds(100);
constexpr absl::Duration kLogEvery = absl::Seconds(10);
constexpr absl::Duration kMs = absl::Milliseconds(1);
constexpr const char* kRefusalNames[] = {"max_connections", "open_files_limit", "silent"};

// Open fds of this process; -1 when they cannot be counted (EMFILE).
int CountOpenFds() {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir("/proc/self/fd"), closedir);
  if (dir == nullptr) return -1;
  int n = 0;
  while (const dirent* e = readdir(dir.get())) {
    if (e->d_name[0] != '.') ++n;
  }
  return n - 1;  // the directory's own fd
}

// "host:port", "[v6]:port" or ":port" (every address).
bool SplitHostPort(const std::string& listen, std::string* host, std::string* port) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return false;
  *host = listen.substr(0, colon);
  *port = listen.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  int n = 0;
  return absl::SimpleAtoi(*port, &n) && n >= 0 && n <= 65535;
}

int PortOf(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

void SetPort(addrinfo* ai, int port) {
  if (ai->ai_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_port = htons(port);
  }
}

// Why bind or listen failed, as an operator can act on it.
std::string ListenFailure(int err) {
  if (err == EADDRINUSE) {
    return "address already in use (another process listens there; pick another port or stop it)";
  }
  if (err == EACCES) return "permission denied (a port below 1024 needs privileges)";
  if (err == EADDRNOTAVAIL) return "address not available (no interface of this host has it)";
  return strerror(err);
}

// A listening socket on `ai`; `v6only` when IPv4 gets its own socket.
absl::StatusOr<ScopedFd> ListenOn(const addrinfo* ai, bool v6only) {
  ScopedFd fd(socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return absl::FailedPreconditionError(strerror(errno));
  const int one = 1;
  const int v6 = v6only ? 1 : 0;
  // Restart at once on the port a previous instance left in TIME_WAIT. Not
  // SO_REUSEPORT: a second server on the same port must fail, not share it.
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (ai->ai_family == AF_INET6) setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof(v6));
  if (bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd.get(), SOMAXCONN) != 0) {
    return absl::FailedPreconditionError(ListenFailure(errno));
  }
  return fd;
}

}  // namespace

struct ConnectionAcceptor::Counters {
  Counters(prometheus::Registry& r, const std::string& name)
      : refused(prometheus::BuildCounter()
                    .Name("grpc_server_connections_refused_total")
                    .Help("Connections closed by the server before gRPC saw them: over "
                          "--max-connections, at the open files limit, or silent too long")
                    .Register(r)),
        accepted(prometheus::BuildCounter()
                     .Name("grpc_server_connections_accepted_total")
                     .Help("Connections handed to the gRPC server")
                     .Register(r)
                     .Add({{"listener", name}})),
        open(prometheus::BuildGauge()
                 .Name("grpc_server_open_connections_estimate")
                 .Help("Open fds beyond those open before the first connection (sampled)")
                 .Register(r)
                 .Add({{"listener", name}})) {
    for (int i = 0; i < 3; ++i) {
      by_reason[i] = &refused.Add({{"listener", name}, {"reason", kRefusalNames[i]}});
    }
  }
  prometheus::Family<prometheus::Counter>& refused;
  prometheus::Counter* by_reason[3];
  prometheus::Counter& accepted;
  prometheus::Gauge& open;
};

ConnectionAcceptor::ConnectionAcceptor(Options options) : options_(std::move(options)) {}

ConnectionAcceptor::~ConnectionAcceptor() { Stop(); }

absl::Status ConnectionAcceptor::CheckAddress(const std::string& listen) {
  std::string host, port;
  if (SplitHostPort(listen, &host, &port)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("\"", listen, "\": not HOST:PORT (or [IPv6]:PORT)"));
}

absl::StatusOr<std::unique_ptr<ConnectionAcceptor>> ConnectionAcceptor::Listen(Options options) {
  std::unique_ptr<ConnectionAcceptor> a(new ConnectionAcceptor(std::move(options)));
  const std::string& listen = a->options_.listen;
  if (absl::Status s = CheckAddress(listen); !s.ok()) return s;
  std::string host, port;
  SplitHostPort(listen, &host, &port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
      rc != 0) {
    return absl::FailedPreconditionError(absl::StrCat(listen, ": ", gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> addresses(found, freeaddrinfo);
  bool has_v4 = false;
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    has_v4 = has_v4 || ai->ai_family == AF_INET;
  }
  std::string errors;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    if (a->port_ != 0) SetPort(ai, a->port_);  // port 0: every address on the first's port
    absl::StatusOr<ScopedFd> fd = ListenOn(ai, has_v4);
    if (!fd.ok()) {
      if (!absl::StrContains(errors, fd.status().message())) {  // v4 and v6 alike: once
        absl::StrAppend(&errors, errors.empty() ? "" : "; ", fd.status().message());
      }
      continue;
    }
    if (a->port_ == 0) a->port_ = PortOf(fd->get());
    a->listeners_.push_back(*std::move(fd));
  }
  if (a->listeners_.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(listen, ": ", errors));
  }
  a->wakeup_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  a->silent_epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
  if (!a->wakeup_.valid() || !a->silent_epoll_.valid()) {
    return absl::InternalError(strerror(errno));
  }
  prometheus::Registry* metrics = a->options_.metrics;
  if (metrics == nullptr) {
    a->own_metrics_ = std::make_shared<prometheus::Registry>();
    metrics = a->own_metrics_.get();
  }
  a->counters_ = std::make_unique<Counters>(*metrics, a->options_.name);
  return a;
}

void ConnectionAcceptor::Start(
    std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> sink) {
  sink_ = std::move(sink);
  baseline_fds_ = counted_fds_ = CountOpenFds();
  counted_at_ = absl::Now();
  spare_.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
  thread_ = std::thread([this] { Loop(); });
}

void ConnectionAcceptor::Stop() {
  stopping_ = true;
  if (thread_.joinable()) {
    const uint64_t one = 1;
    (void)!write(wakeup_.get(), &one, sizeof(one));
    thread_.join();
  }
  listeners_.clear();  // closed: new connections are refused by the kernel
  silent_.clear();
  silent_order_.clear();
}

void ConnectionAcceptor::Loop() {
  std::vector<pollfd> fds;
  for (const ScopedFd& l : listeners_) fds.push_back({l.get(), POLLIN, 0});
  fds.push_back({silent_epoll_.get(), POLLIN, 0});
  fds.push_back({wakeup_.get(), POLLIN, 0});
  while (!stopping_) {
    if (poll(fds.data(), fds.size(), ExpireSilent()) < 0) {
      if (errno != EINTR) WaitForWakeup(absl::Milliseconds(100));
      continue;
    }
    for (size_t i = 0; i + 2 < fds.size() && !stopping_; ++i) {
      if (fds[i].revents != 0) AcceptAll(fds[i].fd);
    }
    if (fds[fds.size() - 2].revents != 0) OnSilentEvents();
  }
}

void ConnectionAcceptor::AcceptAll(int listener) {
  while (!stopping_) {
    ScopedFd fd(accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) {
      if (OnAcceptError(listener, errno)) continue;
      return;
    }
    const int open = OpenConnections();
    counters_->open.Set(open);
    if (open >= options_.max_connections) {
      Refuse(std::move(fd), Refusal::kCap);
      continue;
    }
    ++counted_fds_;
    HoldSilent(std::move(fd), listener);
  }
}

void ConnectionAcceptor::HoldSilent(ScopedFd fd, int listener) {
  const int n = fd.get();
  epoll_event event{};
  event.events = EPOLLIN | EPOLLRDHUP;
  event.data.fd = n;
  if (epoll_ctl(silent_epoll_.get(), EPOLL_CTL_ADD, n, &event) != 0) {
    HandOver(fd.release(), listener);  // cannot watch it: gRPC's at once
    return;
  }
  silent_[n] = Silent{std::move(fd), listener, ++generation_};
  silent_order_.emplace_back(n, generation_, absl::Now() + options_.first_bytes_timeout);
}

void ConnectionAcceptor::OnSilentEvents() {
  epoll_event events[256];
  const int n = epoll_wait(silent_epoll_.get(), events, 256, 0);
  for (int i = 0; i < n; ++i) {
    auto it = silent_.find(events[i].data.fd);
    if (it == silent_.end()) continue;
    epoll_ctl(silent_epoll_.get(), EPOLL_CTL_DEL, it->first, nullptr);
    Silent connection = std::move(it->second);
    silent_.erase(it);
    // Gone before a byte (EOF, reset): closed here, gRPC never knew it.
    if ((events[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) continue;
    HandOver(connection.fd.release(), connection.listener);
  }
}

int ConnectionAcceptor::ExpireSilent() {
  const absl::Time now = absl::Now();
  while (!silent_order_.empty()) {
    const auto& [fd, generation, deadline] = silent_order_.front();
    auto it = silent_.find(fd);
    if (it != silent_.end() && it->second.generation == generation) {
      if (deadline > now) {
        return static_cast<int>(absl::ToInt64Milliseconds(absl::Ceil(deadline - now, kMs)));
      }
      epoll_ctl(silent_epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
      Refuse(std::move(it->second.fd), Refusal::kSilent);
      silent_.erase(it);
    }
    silent_order_.pop_front();
  }
  return -1;
}

void ConnectionAcceptor::HandOver(int fd, int listener) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters p;
  p.listener_fd = listener;
  p.fd = fd;  // gRPC's from here on, closed by it
  sink_->HandleNewConnection(&p);
  counters_->accepted.Increment();
}

bool ConnectionAcceptor::OnAcceptError(int listener, int error) {
  switch (error) {
    case EAGAIN:
      return false;  // the backlog is empty
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
      return true;
    case EMFILE:
    case ENFILE:
      // Give up the spare fd to take the waiting connection and close it: its
      // client learns at once, and the backlog cannot hold the listener
      // readable forever. Without a spare, wait for fds to be closed.
      if (spare_.valid()) {
        spare_.reset();
        ScopedFd fd(accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        const bool accepted = fd.valid();
        if (accepted) Refuse(std::move(fd), Refusal::kFdLimit);
        spare_.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
        return accepted;
      }
      spare_.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
      WaitForWakeup(absl::Milliseconds(20));
      return false;
    default:  // ENOBUFS, ENOMEM, ...: the kernel is short; try again shortly
      if (absl::Now() - error_logged_at_ >= kLogEvery) {
        LogWarning("accept failed", {{"listener", options_.name}, {"error", strerror(error)}});
        error_logged_at_ = absl::Now();
      }
      WaitForWakeup(absl::Milliseconds(20));
      return false;
  }
}

void ConnectionAcceptor::Refuse(ScopedFd fd, Refusal why) {
  // RST at once rather than FIN: the client fails now, nothing lingers.
  const linger reset{1, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  fd.reset();
  const int i = static_cast<int>(why);
  counters_->by_reason[i]->Increment();
  ++unlogged_[i];
  const absl::Time now = absl::Now();
  if (now - logged_at_[i] < kLogEvery) return;
  constexpr const char* kWhy[] = {"connections refused: --max-connections reached",
                                  "connections refused: open files limit reached",
                                  "connections closed: nothing received in time"};
  LogWarning(kWhy[i],
             {{"listener", options_.name},
              {"refused", absl::StrCat(unlogged_[i])},
              {"since_seconds", logged_at_[i] == absl::InfinitePast()
                                    ? "start"
                                    : absl::StrCat(absl::ToInt64Seconds(now - logged_at_[i]))},
              {"max_connections", absl::StrCat(options_.max_connections)}});
  logged_at_[i] = now;
  unlogged_[i] = 0;
}

int ConnectionAcceptor::OpenConnections() {
  const absl::Time now = absl::Now();
  if (now - counted_at_ >= kRecount) {
    if (const int n = CountOpenFds(); n >= 0) counted_fds_ = n;
    counted_at_ = now;
  }
  return counted_fds_ - baseline_fds_;
}

void ConnectionAcceptor::WaitForWakeup(absl::Duration timeout) {
  pollfd p{wakeup_.get(), POLLIN, 0};
  (void)poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
}

}  // namespace booking
