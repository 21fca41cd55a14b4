#include "tests/support/pg_formation.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/shm.h>

#include <filesystem>
#include <fstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "pqxx/pqxx"
#include "tests/support/pg_cluster.h"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

std::string PgBin() {
  const char* env = std::getenv("PG_BIN");
  return env != nullptr ? env : "/usr/lib/postgresql/15/bin";
}

constexpr char kAutoctl[] = "/usr/bin/pg_autoctl";

// The monitor's health checks, tightened from their defaults (20 s to call a
// node unhealthy, 30 s to wait for a lost primary to demote).
constexpr const char* kMonitorSettings[][2] = {
    {"health_check_period", "1000"},
    {"health_check_timeout", "1000"},
    {"health_check_max_retries", "1"},
    {"health_check_retry_delay", "500"},
    {"node_considered_unhealthy_timeout", "2000"},
    {"primary_demote_timeout", "3000"},
};

// One SQL query's first value; an error when it fails.
absl::StatusOr<std::string> QueryOne(const std::string& url, const std::string& sql) {
  try {
    pqxx::connection conn(url);
    pqxx::nontransaction txn(conn);
    pqxx::result r = txn.exec(sql);
    if (r.empty() || r[0][0].is_null()) return std::string();
    return r[0][0].as<std::string>();
  } catch (const std::exception& e) {
    return absl::UnavailableError(e.what());
  }
}

// Removes the shared memory segment a SIGKILLed postmaster left (its key and
// id are on line 7 of postmaster.pid, read before the kill).
void RemoveSharedMemory(const std::string& pid_file_line) {
  std::vector<std::string> parts = absl::StrSplit(pid_file_line, ' ', absl::SkipWhitespace());
  int id = 0;
  if (parts.size() == 2 && absl::SimpleAtoi(parts[1], &id)) (void)shmctl(id, IPC_RMID, nullptr);
}

std::string PidFileLine(const std::string& pgdata, int line) {
  std::ifstream in(pgdata + "/postmaster.pid");
  std::string text;
  for (int i = 0; i < line && std::getline(in, text); ++i) {
  }
  return text;
}

}  // namespace

std::vector<std::string> PgFormation::AsServerUser(std::vector<std::string> argv) const {
  // pg_autoctl keeps its state and configuration under the XDG directories:
  // the formation's own.
  argv.insert(argv.begin(),
              {"/usr/bin/env", "XDG_CONFIG_HOME=" + dir_ + "/config",
               "XDG_DATA_HOME=" + dir_ + "/data", "XDG_RUNTIME_DIR=" + dir_ + "/run"});
  if (as_postgres_user_) argv.insert(argv.begin(), {"/usr/sbin/runuser", "-u", "postgres", "--"});
  return argv;
}

std::string PgFormation::MonitorUrl() const {
  return absl::StrCat("postgres://autoctl_node@127.0.0.1:", monitor_port_,
                      "/pg_auto_failover?sslmode=disable");
}

std::string PgFormation::NodeUrl(int node, const std::string& database) const {
  return absl::StrCat("postgresql://postgres@127.0.0.1:", node_ports_[node], "/", database);
}

std::string PgFormation::Url(const std::string& database) const {
  return absl::StrCat("postgresql://postgres@127.0.0.1:", node_ports_[0],
                      ",127.0.0.1:", node_ports_[1], "/", database,
                      "?target_session_attrs=read-write");
}

absl::StatusOr<std::unique_ptr<PgFormation>> PgFormation::Start() {
  if (!std::filesystem::exists(kAutoctl)) {
    return absl::FailedPreconditionError(
        "no pg_autoctl: install postgresql-15-auto-failover (scripts/setup.sh does)");
  }
  std::unique_ptr<PgFormation> f(new PgFormation());
  absl::StatusOr<std::string> dir = MakeServerDir("booking-paf", &f->as_postgres_user_);
  if (!dir.ok()) return dir.status();
  f->dir_ = *dir;
  if (absl::Status s = f->StartMonitor(); !s.ok()) return s;
  if (absl::Status s = f->TuneMonitor(); !s.ok()) return s;
  for (int node : {0, 1}) {
    if (absl::Status s = f->StartNode(node); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(s.message(), "\n", f->Logs()));
    }
  }
  return f;
}

absl::Status PgFormation::StartMonitor() {
  monitor_port_ = FreePort();
  absl::StatusOr<Process> p = Process::Spawn(
      AsServerUser({kAutoctl, "create", "monitor", "--pgdata", dir_ + "/monitor", "--pgport",
                    absl::StrCat(monitor_port_), "--hostname", "127.0.0.1", "--auth", "trust",
                    "--no-ssl", "--pgctl", PgBin() + "/pg_ctl", "--run"}),
      {}, Log("monitor"));
  if (!p.ok()) return p.status();
  monitor_.emplace(*std::move(p));
  return WaitFor([&] { return QueryOne(MonitorUrl(), "SELECT 1").ok(); }, absl::Seconds(60),
                 "the pg_auto_failover monitor to accept connections");
}

absl::Status PgFormation::TuneMonitor() {
  const std::string url =
      absl::StrCat("postgresql://postgres@127.0.0.1:", monitor_port_, "/pg_auto_failover");
  for (const auto& [name, value] : kMonitorSettings) {
    absl::StatusOr<std::string> r =
        QueryOne(url, absl::StrCat("ALTER SYSTEM SET pgautofailover.", name, " = ", value));
    if (!r.ok()) return r.status();
  }
  return QueryOne(url, "SELECT pg_reload_conf()").status();
}

absl::Status PgFormation::Spawn(int node, std::vector<std::string> autoctl_args) {
  const std::string name = absl::StrCat("node", node + 1);
  autoctl_args.insert(autoctl_args.begin(), kAutoctl);
  absl::StatusOr<Process> p = Process::Spawn(AsServerUser(autoctl_args), {}, Log(name));
  if (!p.ok()) return p.status();
  nodes_[node].emplace(*std::move(p));
  return absl::OkStatus();
}

absl::Status PgFormation::StartNode(int node) {
  node_ports_[node] = FreePort();
  const std::string name = absl::StrCat("node", node + 1);
  absl::Status spawned = Spawn(node, {"create",
                                      "postgres",
                                      "--pgdata",
                                      dir_ + "/" + name,
                                      "--pgport",
                                      absl::StrCat(node_ports_[node]),
                                      "--listen",
                                      "127.0.0.1",
                                      "--hostname",
                                      "127.0.0.1",
                                      "--name",
                                      name,
                                      "--auth",
                                      "trust",
                                      "--no-ssl",
                                      "--pgctl",
                                      PgBin() + "/pg_ctl",
                                      "--monitor",
                                      MonitorUrl(),
                                      "--run"});
  if (!spawned.ok()) return spawned;
  // The first node becomes a single primary; the second joins as its
  // standby, and the first turns primary with it as synchronous standby.
  return node == 0 ? WaitState(0, "single", absl::Seconds(120))
                   : WaitState(1, "secondary", absl::Seconds(120));
}

absl::Status PgFormation::Rejoin(int node) {
  if (nodes_[node].has_value()) return absl::FailedPreconditionError("node running");
  absl::Status spawned = Spawn(node, {"run", "--pgdata", absl::StrCat(dir_, "/node", node + 1)});
  if (!spawned.ok()) return spawned;
  // pg_rewind, or a whole base backup where pg_autoctl falls back to one
  // (minutes on a busy machine with the load's rows).
  return WaitState(node, "secondary", absl::Seconds(300));
}

absl::Status PgFormation::WaitState(int node, const std::string& state,
                                    absl::Duration timeout) const {
  // "single" alone; "secondary" beside a "primary" that has it as its
  // synchronous standby.
  std::string want = absl::StrCat("node", node + 1, ":", state, "/", state);
  if (state != "single") {
    const std::string other = absl::StrCat("node", 2 - node, ":primary/primary");
    want = node == 0 ? absl::StrCat(want, ", ", other) : absl::StrCat(other, ", ", want);
  }
  return WaitFor([&] { return States() == want; }, timeout,
                 absl::StrCat("the formation to be ", want));
}

absl::StatusOr<int> PgFormation::Primary() const {
  absl::StatusOr<std::string> name =
      QueryOne(MonitorUrl(),
               // wait_primary: a primary whose standby is lost, writing alone.
               "SELECT nodename FROM pgautofailover.node WHERE reportedstate = goalstate "
               "AND reportedstate IN ('single', 'primary', 'wait_primary')");
  if (!name.ok()) return name.status();
  if (*name == "node1") return 0;
  if (*name == "node2") return 1;
  return absl::NotFoundError(absl::StrCat("no primary: ", States()));
}

std::string PgFormation::States() const {
  return QueryOne(MonitorUrl(),
                  "SELECT string_agg(nodename || ':' || reportedstate || '/' || goalstate, ', ' "
                  "ORDER BY nodeid) FROM pgautofailover.node")
      .value_or("(the monitor does not answer)");
}

absl::StatusOr<std::string> PgFormation::SynchronousStandbys() const {
  return QueryOne(Url("postgres"), "SHOW synchronous_standby_names");
}

absl::Status PgFormation::Kill(int node) {
  if (!nodes_[node].has_value()) return absl::FailedPreconditionError("node not running");
  const std::string pgdata = absl::StrCat(dir_, "/node", node + 1);
  const std::string shm = PidFileLine(pgdata, 7);
  // The process group Process::Spawn made: runuser, pg_autoctl and every
  // PostgreSQL process under it.
  ::kill(-nodes_[node]->pid(), SIGKILL);
  absl::StatusOr<int> code = nodes_[node]->Wait(absl::Seconds(10));
  nodes_[node].reset();
  if (!code.ok()) return code.status();
  absl::Status gone = WaitFor([&] { return !QueryOne(NodeUrl(node, "postgres"), "SELECT 1").ok(); },
                              absl::Seconds(10), "the killed node to stop answering");
  RemoveSharedMemory(shm);
  // As after the machine's reboot: no lock file naming a dead postmaster,
  // whose pid another process may hold by now (pg_rewind would refuse the
  // directory, and the rejoin fall back to a whole base backup).
  std::error_code ec;
  std::filesystem::remove(pgdata + "/postmaster.pid", ec);
  return gone;
}

absl::Status PgFormation::WaitPromoted(int lost, absl::Duration timeout) const {
  const int survivor = 1 - lost;
  return WaitFor(
      [&] {
        return Primary().value_or(-1) == survivor &&
               QueryOne(Url("postgres"), "SELECT NOT pg_is_in_recovery()").value_or("") == "t";
      },
      timeout, absl::StrCat("node", survivor + 1, " to be promoted"));
}

absl::StatusOr<std::string> PgFormation::CreateDatabase(const std::string& name) {
  try {
    pqxx::connection conn(Url("postgres"));
    pqxx::nontransaction txn(conn);
    txn.exec(absl::StrCat("CREATE DATABASE ", txn.quote_name(name)));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("CREATE DATABASE ", name, ": ", e.what()));
  }
  return Url(name);
}

std::string PgFormation::Logs() const {
  std::string out;
  for (const char* name : {"monitor", "node1", "node2"}) {
    absl::StrAppend(&out, "--- pg_autoctl ", name, " (", Log(name), ")\n", ReadFile(Log(name)));
  }
  return out;
}

PgFormation::~PgFormation() {
  // Nodes first (a node stopping tells the monitor), then the monitor:
  // SIGTERM lets pg_autoctl stop its PostgreSQL; what is left is killed.
  for (std::optional<Process>* p : {&nodes_[1], &nodes_[0], &monitor_}) {
    if (!p->has_value()) continue;
    (*p)->Signal(SIGTERM);
    if (!(*p)->Wait(absl::Seconds(30)).ok()) ::kill(-(*p)->pid(), SIGKILL);
    p->reset();
  }
  if (!dir_.empty() && std::getenv("KEEP_PG") == nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

}  // namespace booking::testing
