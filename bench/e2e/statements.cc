#include "bench/e2e/statements.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "pqxx/pqxx"

namespace booking::bench {

absl::Status EnableStatements(testing::PgCluster& pg) {
  try {
    pqxx::connection conn(pg.Url("postgres"));
    pqxx::nontransaction txn(conn);
    txn.exec("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'");
  } catch (const std::exception& e) {
    return absl::InternalError(e.what());
  }
  if (absl::Status s = pg.Restart(); !s.ok()) return s;
  try {
    pqxx::connection conn(pg.Url("postgres"));
    pqxx::nontransaction txn(conn);
    txn.exec("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  } catch (const std::exception& e) {
    return absl::InternalError(e.what());
  }
  return absl::OkStatus();
}

void ResetStatements(testing::PgCluster& pg) {
  pqxx::connection conn(pg.Url("postgres"));
  pqxx::nontransaction txn(conn);
  txn.exec("SELECT pg_stat_statements_reset()");
}

void PrintTopStatements(testing::PgCluster& pg, const std::string& database, int n) {
  pqxx::connection conn(pg.Url("postgres"));
  pqxx::nontransaction txn(conn);
  const std::string where = absl::StrCat(
      "dbid = (SELECT oid FROM pg_database WHERE datname = ", txn.quote(database), ")");
  pqxx::row total = txn.exec1(
      absl::StrCat("SELECT coalesce(sum(calls), 0)::bigint, coalesce(sum(total_exec_time), 0), "
                   "coalesce(sum(total_plan_time), 0) FROM pg_stat_statements WHERE ",
                   where));
  std::printf("pg_stat_statements, database %s: %lld calls, %.0f ms executing in all\n",
              database.c_str(), total[0].as<long long>(), total[1].as<double>());
  std::printf("  %9s %9s %8s %9s  %s\n", "calls", "total ms", "mean ms", "rows", "statement");
  for (const pqxx::row& r : txn.exec(absl::StrCat(
           "SELECT calls, total_exec_time, mean_exec_time, rows, "
           "left(regexp_replace(query, '\\s+', ' ', 'g'), 110) FROM pg_stat_statements WHERE ",
           where, " ORDER BY total_exec_time DESC LIMIT ", n))) {
    std::printf("  %9lld %9.0f %8.3f %9lld  %s\n", r[0].as<long long>(), r[1].as<double>(),
                r[2].as<double>(), r[3].as<long long>(), r[4].c_str());
  }
}

}  // namespace booking::bench
