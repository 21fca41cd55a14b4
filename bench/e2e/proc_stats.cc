#include "bench/e2e/proc_stats.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tests/support/process.h"

namespace booking::bench {
namespace {

struct Stat {
  pid_t ppid = -1;
  double cpu_seconds = 0;
};

// /proc/<pid>/stat: fields after the command (which may hold spaces) start
// after the last ')': state ppid ... utime(14) stime(15) cutime(16)
// cstime(17). The c-times are the children this process waited for: a
// PostgreSQL backend that ended (pgbench's, at the end of its run) counts
// in its postmaster's, so summing all four over a live tree counts every
// process that ran in it once.
bool ReadStat(pid_t pid, Stat* out) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(in, line)) return false;
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::vector<std::string> f = absl::StrSplit(line.substr(close + 2), ' ');
  if (f.size() < 15) return false;
  int64_t ppid = 0, utime = 0, stime = 0, cutime = 0, cstime = 0;
  if (!absl::SimpleAtoi(f[1], &ppid) || !absl::SimpleAtoi(f[11], &utime) ||
      !absl::SimpleAtoi(f[12], &stime) || !absl::SimpleAtoi(f[13], &cutime) ||
      !absl::SimpleAtoi(f[14], &cstime)) {
    return false;
  }
  out->ppid = static_cast<pid_t>(ppid);
  out->cpu_seconds = static_cast<double>(utime + stime + cutime + cstime) / sysconf(_SC_CLK_TCK);
  return true;
}

std::map<pid_t, Stat> AllProcesses() {
  std::map<pid_t, Stat> all;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return all;
  while (dirent* e = readdir(dir)) {
    int pid = 0;
    Stat s;
    if (absl::SimpleAtoi(e->d_name, &pid) && ReadStat(pid, &s)) all[pid] = s;
  }
  closedir(dir);
  return all;
}

}  // namespace

double TreeCpuSeconds(pid_t root) {
  const std::map<pid_t, Stat> all = AllProcesses();
  double sum = 0;
  for (const auto& [pid, s] : all) {
    // Walk up to see whether `root` is an ancestor (trees here are shallow).
    for (pid_t p = pid; p > 1;) {
      if (p == root) {
        sum += s.cpu_seconds;
        break;
      }
      auto it = all.find(p);
      if (it == all.end()) break;
      p = it->second.ppid;
    }
  }
  return sum;
}

void CpuMeter::Begin() {
  start.clear();
  for (const auto& [name, pid] : trees) start.push_back(TreeCpuSeconds(pid));
  self_start = SelfCpuSeconds();
  wall_start = absl::Now();
}

double CpuMeter::End() {
  const double wall = absl::ToDoubleSeconds(absl::Now() - wall_start);
  const double cores = static_cast<double>(sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("CPU over the load (%.1f s x %.0f cores):\n", wall, cores);
  used.clear();
  for (size_t i = 0; i < trees.size(); ++i) {
    used.push_back(TreeCpuSeconds(trees[i].second) - start[i]);
    std::printf("  %-28s %7.1f s  %5.1f%%\n", trees[i].first.c_str(), used.back(),
                100 * used.back() / (wall * cores));
  }
  const double self = SelfCpuSeconds() - self_start;
  std::printf("  %-28s %7.1f s  %5.1f%%\n", "load generator (this process)", self,
              100 * self / (wall * cores));
  return self / (wall * cores);
}

int64_t StatusKib(pid_t pid, const std::string& field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  const std::string prefix = field + ":";
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) != 0) continue;
    std::istringstream rest(line.substr(prefix.size()));
    int64_t kib = 0;
    rest >> kib;
    return kib;
  }
  return 0;
}

pid_t PostmasterPid(const std::string& data_dir) {
  std::ifstream in(data_dir + "/postmaster.pid");
  int pid = -1;
  in >> pid;
  return in ? pid : -1;
}

double SelfCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

RssSampler::RssSampler(std::map<std::string, pid_t> pids, int every_ms)
    : pids_(std::move(pids)), thread_([this, every_ms] { Loop(every_ms); }) {}

RssSampler::~RssSampler() { Stop(); }

void RssSampler::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::map<std::string, RssSampler::Peak> RssSampler::peaks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peaks_;
}

void RssSampler::Loop(int every_ms) {
  while (!stop_) {
    for (const auto& [name, pid] : pids_) {
      const int64_t own = StatusKib(pid, "VmRSS");
      int64_t with_children = own;
      const std::vector<pid_t> children = testing::ChildrenOf(pid);
      for (pid_t c : children) with_children += StatusKib(c, "VmRSS");
      std::lock_guard<std::mutex> lock(mu_);
      Peak& p = peaks_[name];
      p.rss_kib = std::max(p.rss_kib, own);
      p.with_children_kib = std::max(p.with_children_kib, with_children);
      p.children_seen = std::max(p.children_seen, static_cast<int>(children.size()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(every_ms));
  }
}

}  // namespace booking::bench
