// Store fixtures for the migration tests: SQL files under tests/fixtures/
// loaded with psql, and small query helpers.
#ifndef TESTS_SUPPORT_FIXTURES_H_
#define TESTS_SUPPORT_FIXTURES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/sql.h"

namespace booking::testing {

std::string FixturePath(const std::string& name);  // e.g. "seed_shape.sql"

struct PsqlRun {
  int exit_code = -1;
  std::string output;
};

// psql -v ON_ERROR_STOP=1 -f <fixture> against `url`, with -v name=value vars.
PsqlRun RunPsqlFile(const PgCluster& pg, const std::string& url, const std::string& file,
                    const std::vector<std::string>& vars = {});

// The migrator binary with BOOKING_DATABASE_URL / HISTORY_DATABASE_URL set.
struct MigratorRun {
  int exit_code = -1;
  std::string output;
};
MigratorRun RunMigrator(const PgCluster& pg, const std::string& booking_url,
                        const std::string& history_url, std::vector<std::string> args);

}  // namespace booking::testing

#endif  // TESTS_SUPPORT_FIXTURES_H_
