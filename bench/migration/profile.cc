#include "bench/migration/profile.h"

#include "absl/strings/str_format.h"
#include "pqxx/pqxx"
#include "tests/support/sql.h"

namespace booking::bench {

absl::Status Profiler::Enable(testing::PgCluster& pg) {
  const std::string url = pg.Url("postgres");
  testing::Exec(url, "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'");
  testing::Exec(url, "ALTER SYSTEM SET track_io_timing = on");
  if (absl::Status s = pg.Restart(); !s.ok()) return s;
  // Known only once the library is loaded.
  testing::Exec(url, "ALTER SYSTEM SET pg_stat_statements.track = 'all'");
  testing::Exec(url, "SELECT pg_reload_conf()");
  return absl::OkStatus();
}

void Profiler::Reset(const std::string& url) {
  testing::Exec(url, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  testing::Exec(url, "SELECT pg_stat_statements_reset()");
}

void Profiler::Report(const std::string& url, std::ostream& out) {
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  const pqxx::result total = txn.exec(
      "SELECT coalesce(sum(total_exec_time) FILTER (WHERE toplevel), 0), "
      "coalesce(sum(total_plan_time), 0) FROM pg_stat_statements");
  out << absl::StrFormat("profile (pg_stat_statements): top-level execution %.0f ms\n",
                         total[0][0].as<double>());
  out << "  total ms  calls  mean ms      rows  hit/read/dirtied blks  top  statement\n";
  for (const pqxx::row& r :
       txn.exec("SELECT total_exec_time, calls, mean_exec_time, rows, shared_blks_hit, "
                "shared_blks_read, shared_blks_dirtied, toplevel, "
                "left(regexp_replace(query, '\\s+', ' ', 'g'), 110) "
                "FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 12")) {
    out << absl::StrFormat("  %8.0f %6d %8.2f %9d  %7d/%d/%d  %4s  %s\n", r[0].as<double>(),
                           r[1].as<int64_t>(), r[2].as<double>(), r[3].as<int64_t>(),
                           r[4].as<int64_t>(), r[5].as<int64_t>(), r[6].as<int64_t>(),
                           r[7].as<bool>() ? "yes" : "no", r[8].c_str());
  }
}

}  // namespace booking::bench
