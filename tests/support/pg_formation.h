// A PostgreSQL 15 primary and its synchronous standby managed by a real
// failover manager, pg_auto_failover (Debian's postgresql-15-auto-failover):
// a monitor and two nodes, each a `pg_autoctl ... --run` process with its
// PostgreSQL under it, in a temporary directory removed afterwards. The
// monitor checks health every second and fails over within a few seconds
// (its defaults take about 30 s).
//
// The URLs it gives name both nodes with target_session_attrs=read-write, as
// a deployment's do: libpq connects to whichever is the primary.
//
// Thread safety: none; one test thread drives it.
#ifndef TESTS_SUPPORT_PG_FORMATION_H_
#define TESTS_SUPPORT_PG_FORMATION_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/support/database_server.h"
#include "tests/support/process.h"

namespace booking::testing {

class PgFormation : public DatabaseServer {
 public:
  // Monitor, then node 1 (primary), then node 2 (standby, synchronous): the
  // formation is up when the monitor reports "primary" and "secondary".
  static absl::StatusOr<std::unique_ptr<PgFormation>> Start();
  ~PgFormation() override;
  PgFormation(const PgFormation&) = delete;
  PgFormation& operator=(const PgFormation&) = delete;

  absl::StatusOr<std::string> CreateDatabase(const std::string& name) override;
  const std::string& dir() const override { return dir_; }
  std::string Url(const std::string& database) const;

  // The node (0 or 1) the monitor reports as primary (with its standby, or
  // "wait_primary" once the standby is lost).
  absl::StatusOr<int> Primary() const;
  // SIGKILLs node `node`'s pg_autoctl and its PostgreSQL (the server lost).
  absl::Status Kill(int node);
  // Starts node `node` again on its data directory (pg_autoctl run): it
  // rejoins as the standby (pg_rewind), synchronous again once it caught up.
  absl::Status Rejoin(int node);
  // Waits until the node other than `lost` is the primary, writable.
  absl::Status WaitPromoted(int lost, absl::Duration timeout) const;
  // The monitor's view: "name:reported/assigned, ..." (for messages).
  std::string States() const;
  // synchronous_standby_names on the current primary.
  absl::StatusOr<std::string> SynchronousStandbys() const;
  // Every log, for failure messages.
  std::string Logs() const;

 private:
  PgFormation() = default;
  absl::Status StartMonitor();
  absl::Status StartNode(int node);
  absl::Status Spawn(int node, std::vector<std::string> autoctl_args);
  // Waits until node `node` reports `state` and the other node is primary.
  absl::Status WaitState(int node, const std::string& state, absl::Duration timeout) const;
  absl::Status TuneMonitor();
  std::vector<std::string> AsServerUser(std::vector<std::string> argv) const;
  std::string MonitorUrl() const;
  std::string NodeUrl(int node, const std::string& database) const;
  std::string Log(const std::string& name) const { return dir_ + "/" + name + ".log"; }

  std::string dir_;
  bool as_postgres_user_ = false;
  int monitor_port_ = 0;
  int node_ports_[2] = {0, 0};
  std::optional<Process> monitor_;
  std::optional<Process> nodes_[2];
};

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_PG_FORMATION_H_
