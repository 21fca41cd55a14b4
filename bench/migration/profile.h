// Where a phase's database time goes: pg_stat_statements (shipped with
// PostgreSQL 15) loaded into the benchmark's server, reset before the phase
// and read after it, nested statements (trigger bodies) included.
#ifndef BENCH_MIGRATION_PROFILE_H_
#define BENCH_MIGRATION_PROFILE_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "tests/support/pg_cluster.h"

namespace booking::bench {

class Profiler {
 public:
  // Loads the extension at server start (a restart) and tracks nested statements.
  absl::Status Enable(testing::PgCluster& pg);
  void Reset(const std::string& url);
  // The statements that took most of the time since Reset, with their buffers.
  void Report(const std::string& url, std::ostream& out);
};

}  // namespace booking::bench

#endif  // BENCH_MIGRATION_PROFILE_H_
