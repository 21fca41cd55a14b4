// pg_stat_statements for e2e-bench's profile: loaded into a PostgreSQL server
// the test harness started (ALTER SYSTEM + restart), reset before the load,
// and its top statements printed after it, so where a status change's time
// goes in the store is read, not guessed.
#ifndef BENCH_E2E_STATEMENTS_H_
#define BENCH_E2E_STATEMENTS_H_

#include <string>

#include "absl/status/status.h"
#include "tests/support/pg_cluster.h"

namespace booking::bench {

// Loads pg_stat_statements (restarts the server) and creates the extension in
// the "postgres" database, from which every database's statements are seen.
absl::Status EnableStatements(testing::PgCluster& pg);
void ResetStatements(testing::PgCluster& pg);
// The top `n` statements of `database` by total execution time, and the
// calls and time of all of them.
void PrintTopStatements(testing::PgCluster& pg, const std::string& database, int n);

}  // namespace booking::bench

#endif  // BENCH_E2E_STATEMENTS_H_
