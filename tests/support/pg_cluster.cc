#include "tests/support/pg_cluster.h"

#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "pqxx/pqxx"
#include "tests/support/process.h"

namespace booking::testing {
namespace {

std::string PgBin() {
  const char* env = std::getenv("PG_BIN");
  return env != nullptr ? env : "/usr/lib/postgresql/15/bin";
}

}  // namespace

std::vector<std::string> PsqlFileCommand(const std::string& url, const std::string& file,
                                         const std::vector<std::string>& vars) {
  std::vector<std::string> argv = {
      PgBin() + "/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", file};
  for (const std::string& v : vars) {
    argv.push_back("-v");
    argv.push_back(v);
  }
  return argv;
}

absl::StatusOr<std::string> MakeServerDir(const std::string& prefix, bool* as_postgres_user) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (mkdtemp(tmpl.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  *as_postgres_user = geteuid() == 0;
  if (*as_postgres_user) {
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr) return absl::FailedPreconditionError("running as root but no postgres user");
    if (chown(tmpl.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return absl::InternalError(absl::StrCat("cannot chown ", tmpl, " to postgres"));
    }
  }
  return tmpl;
}

std::vector<std::string> PgCluster::AsServerUser(std::vector<std::string> argv) const {
  if (!as_postgres_user_) return argv;
  argv.insert(argv.begin(), {"/usr/sbin/runuser", "-u", "postgres", "--"});
  return argv;
}

absl::StatusOr<std::unique_ptr<PgCluster>> PgCluster::Start() {
  std::unique_ptr<PgCluster> c(new PgCluster());
  c->bin_ = PgBin();
  if (!std::filesystem::exists(c->bin_ + "/initdb")) {
    return absl::FailedPreconditionError(
        absl::StrCat("no PostgreSQL 15 at ", c->bin_, ": run scripts/setup.sh (or set PG_BIN)"));
  }
  absl::StatusOr<std::string> dir = MakeServerDir("booking-pg", &c->as_postgres_user_);
  if (!dir.ok()) return dir.status();
  c->dir_ = *dir;
  const std::string log = c->dir_ + "/setup.log";
  absl::StatusOr<int> rc =
      RunCommand(c->AsServerUser({c->bin_ + "/initdb", "-D", c->dir_ + "/data", "-A", "trust", "-U",
                                  "postgres", "--no-sync", "-E", "UTF8"}),
                 {"LC_ALL=C"}, "/dev/null");
  if (!rc.ok() || *rc != 0) {
    return absl::InternalError(absl::StrCat("initdb failed in ", c->dir_));
  }
  // FreePort's port is free when asked, but the kernel may hand it to one of
  // the suite's outgoing connections before the server binds it: then the
  // server says so in its log and another port is tried.
  for (int attempt = 1;; ++attempt) {
    std::error_code ec;
    std::filesystem::remove(c->dir_ + "/server.log", ec);  // this attempt's words only
    c->port_ = FreePort();
    absl::Status s = c->Ctl("start");
    if (s.ok()) return c;
    const bool port_taken = absl::StrContains(s.message(), "Address already in use");
    if (!port_taken || attempt == 5) {
      c->port_ = 0;
      return s;
    }
  }
}

absl::Status PgCluster::Ctl(const std::string& action) {
  std::vector<std::string> argv = {
      bin_ + "/pg_ctl", "-D", dir_ + "/data", "-w", "-t", "60", "-l", dir_ + "/server.log", action};
  if (action != "stop") {
    argv.insert(argv.end() - 1,
                {"-o", absl::StrCat("-p ", port_, " -k ", dir_,
                                    " -c listen_addresses=127.0.0.1 -c fsync=off"
                                    " -c max_connections=200 -c synchronous_commit=off",
                                    // For profiling, e.g. PG_EXTRA_OPTS="-c
                                    // shared_preload_libraries=pg_stat_statements".
                                    std::getenv("PG_EXTRA_OPTS") == nullptr
                                        ? ""
                                        : absl::StrCat(" ", std::getenv("PG_EXTRA_OPTS")))});
  }
  if (action != "start") argv.insert(argv.end() - 1, {"-m", "fast"});
  absl::StatusOr<int> rc = RunCommand(AsServerUser(argv), {}, "/dev/null");
  if (!rc.ok() || *rc != 0) {
    return absl::InternalError(absl::StrCat("pg_ctl ", action, " failed; see ", dir_,
                                            "/server.log:\n", ReadFile(dir_ + "/server.log")));
  }
  return absl::OkStatus();
}

PgCluster::~PgCluster() {
  if (port_ != 0) (void)Ctl("stop");
  if (!dir_.empty() && std::getenv("KEEP_PG") == nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string PgCluster::Url(const std::string& database) const {
  return absl::StrCat("postgresql://postgres@127.0.0.1:", port_, "/", database);
}

absl::StatusOr<std::string> PgCluster::CreateDatabase(const std::string& name) {
  try {
    pqxx::connection conn(Url("postgres"));
    pqxx::nontransaction txn(conn);
    txn.exec(absl::StrCat("CREATE DATABASE ", txn.quote_name(name)));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("CREATE DATABASE ", name, ": ", e.what()));
  }
  return Url(name);
}

absl::Status PgCluster::Stop() { return Ctl("stop"); }
absl::Status PgCluster::Restart() { return Ctl("restart"); }

}  // namespace booking::testing
