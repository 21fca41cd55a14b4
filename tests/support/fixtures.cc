#include "tests/support/fixtures.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "pqxx/pqxx"
#include "tests/support/process.h"
#include "tests/support/service_set.h"

namespace booking::testing {
namespace {

std::string UniqueLog(const PgCluster& pg, const std::string& what) {
  static std::atomic<int> n{0};
  return absl::StrCat(pg.dir(), "/", what, "-", ++n, ".log");
}

}  // namespace

std::string FixturePath(const std::string& name) { return absl::StrCat(FIXTURES_DIR, "/", name); }

PsqlRun RunPsqlFile(const PgCluster& pg, const std::string& url, const std::string& file,
                    const std::vector<std::string>& vars) {
  const std::vector<std::string> argv = PsqlFileCommand(url, file, vars);
  const std::string log = UniqueLog(pg, "psql");
  absl::StatusOr<int> rc = RunCommand(argv, {}, log);
  return {rc.ok() ? *rc : -1, ReadFile(log)};
}

MigratorRun RunMigrator(const PgCluster& pg, const std::string& booking_url,
                        const std::string& history_url, std::vector<std::string> args) {
  args.insert(args.begin(), MigratorBin());
  const std::string log = UniqueLog(pg, "migrator");
  absl::StatusOr<int> rc = RunCommand(
      args, {"BOOKING_DATABASE_URL=" + booking_url, "HISTORY_DATABASE_URL=" + history_url}, log,
      absl::Minutes(10));
  return {rc.ok() ? *rc : -1, ReadFile(log)};
}

}  // namespace booking::testing
