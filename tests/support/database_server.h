// Where a ServiceSet's stores live: a PostgreSQL server of a test's own
// (PgCluster) or a primary with its standby behind a failover manager
// (PgFormation). Either creates databases and gives their libpq URLs.
#ifndef TESTS_SUPPORT_DATABASE_SERVER_H_
#define TESTS_SUPPORT_DATABASE_SERVER_H_

#include <string>

#include "absl/status/statusor.h"

namespace booking::testing {

class DatabaseServer {
 public:
  virtual ~DatabaseServer() = default;
  // Creates an empty database and returns the URL the services connect with.
  virtual absl::StatusOr<std::string> CreateDatabase(const std::string& name) = 0;
  // A directory of the server's own, removed with it (logs go there).
  virtual const std::string& dir() const = 0;
};

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_DATABASE_SERVER_H_
