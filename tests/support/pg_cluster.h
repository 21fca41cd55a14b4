// A real PostgreSQL 15 server for one test binary: initdb in a temporary
// directory, started on a free port, removed afterwards. As root, the server
// runs as the postgres user (PostgreSQL refuses to run as root).
#ifndef TESTS_SUPPORT_PG_CLUSTER_H_
#define TESTS_SUPPORT_PG_CLUSTER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/support/database_server.h"

namespace booking::testing {

class PgCluster : public DatabaseServer {
 public:
  static absl::StatusOr<std::unique_ptr<PgCluster>> Start();
  ~PgCluster() override;
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  int port() const { return port_; }
  const std::string& dir() const override { return dir_; }

  // Creates an empty database and returns its libpq URL.
  absl::StatusOr<std::string> CreateDatabase(const std::string& name) override;
  std::string Url(const std::string& database) const;

  absl::Status Stop();  // fast shutdown
  absl::Status Restart();

 private:
  PgCluster() = default;
  absl::Status Ctl(const std::string& action);
  std::vector<std::string> AsServerUser(std::vector<std::string> argv) const;

  std::string dir_;
  std::string bin_;
  int port_ = 0;
  bool as_postgres_user_ = false;
};

// A new directory under the temporary one, "<prefix>-XXXXXX", for a server's
// data and logs; as root, owned by the postgres user (PostgreSQL refuses to
// run as root), and `*as_postgres_user` set.
absl::StatusOr<std::string> MakeServerDir(const std::string& prefix, bool* as_postgres_user);

// psql running `file` against `url`, stopping at the first error, with
// -v `vars` ("name=value").
std::vector<std::string> PsqlFileCommand(const std::string& url, const std::string& file,
                                         const std::vector<std::string>& vars);

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_PG_CLUSTER_H_
