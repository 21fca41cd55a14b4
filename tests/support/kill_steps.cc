#include "tests/support/kill_steps.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "pqxx/pqxx"
#include "tests/support/process.h"
#include "tests/support/service_set.h"
#include "tests/support/wait.h"

namespace booking::testing {
namespace {

// Columns no rerun reproduces (serial ids, random UUIDs, clock readings), or
// (kApp) that only the migration's bookkeeping and history hold. A table
// mapped to {"*"} is left out whole.
std::set<std::string> Excluded(const std::string& table, DigestKind kind) {
  static const std::map<std::string, std::set<std::string>> kFull = {
      {"BookingOutbox", {"id", "eventId", "createdAt"}},
      {"StatusMigration", {"*"}},  // its own section: phase and flags
      {"StatusMigrationLog", {"*"}},
      {"StatusMigrationWriter", {"pid", "firstAt", "lastAt"}},
      {"Booking_Status_Migration_Backup", {"migrationTimestamp"}},
      {"MigrationLedger", {"appliedAt"}}};
  static const std::map<std::string, std::set<std::string>> kApp = {
      {"Booking", {"version"}},
      {"BookingOutbox", {"*"}},
      {"BookingStatusExact", {"*"}},
      {"Booking_Status_Migration_Backup",
       {"migrationTimestamp", "refStatus", "refVersion", "refUpdatedAt"}}};
  std::set<std::string> out;
  if (kind == DigestKind::kState && table == "StatusMigrationLog") return {"id", "at"};
  if (auto it = kFull.find(table); it != kFull.end()) out = it->second;
  if (kind == DigestKind::kApp) {
    if (auto it = kApp.find(table); it != kApp.end()) {
      out.insert(it->second.begin(), it->second.end());
    }
  }
  return out;
}

// Every table's rows, columns in name order (a swap moves a column to the
// end; what matters is its content).
std::string RowsSql(pqxx::work& txn, DigestKind kind) {
  std::vector<std::string> parts;
  for (const pqxx::row& t : txn.exec(R"(
         SELECT c.relname::text,
                array_to_string(array_agg(a.attname::text ORDER BY a.attname), E'\n')
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
         GROUP BY 1 ORDER BY 1)")) {
    const std::string table = t[0].as<std::string>();
    const std::set<std::string> excluded = Excluded(table, kind);
    if (excluded.count("*") > 0) continue;
    std::vector<std::string> columns;
    for (absl::string_view c : absl::StrSplit(t[1].as<std::string>(), '\n')) {
      if (excluded.count(std::string(c)) == 0) columns.push_back(txn.quote_name(std::string(c)));
    }
    parts.push_back(absl::StrCat("SELECT ", txn.quote("rows " + table), ", ROW(",
                                 absl::StrJoin(columns, ", "), ")::text FROM ",
                                 txn.quote_name(table)));
  }
  return absl::StrJoin(parts, "\nUNION ALL ");
}

// The schema's objects, one line each, by section.
constexpr char kCatalogSql[] = R"(
  SELECT 'labels', format('%s: %s', t.typname,
                          (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                           FROM pg_enum e WHERE e.enumtypid = t.oid))
  FROM pg_type t WHERE t.typnamespace = to_regnamespace(current_schema()) AND t.typtype = 'e'
  UNION ALL
  SELECT 'columns', format('%s.%s %s default=%s notnull=%s', c.relname, a.attname,
                           format_type(a.atttypid, a.atttypmod), pg_get_expr(d.adbin, d.adrelid),
                           a.attnotnull)
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE c.relnamespace = to_regnamespace(current_schema()) AND c.relkind IN ('r', 'p', 'v')
    AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT 'indexes', format('%s valid=%s ready=%s clustered=%s', pg_get_indexdef(i.indexrelid),
                           i.indisvalid, i.indisready, i.indisclustered)
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
  WHERE c.relnamespace = to_regnamespace(current_schema())
  UNION ALL
  SELECT 'views', format('%s: %s options=%s', c.relname, pg_get_viewdef(c.oid), c.reloptions)
  FROM pg_class c WHERE c.relnamespace = to_regnamespace(current_schema()) AND c.relkind = 'v'
  UNION ALL
  SELECT 'triggers', format('%s enabled=%s', pg_get_triggerdef(t.oid), t.tgenabled)
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
  WHERE c.relnamespace = to_regnamespace(current_schema()) AND NOT t.tgisinternal
  UNION ALL
  SELECT 'constraints', format('%s %s: %s validated=%s local=%s', k.conrelid::regclass, k.conname,
                               pg_get_constraintdef(k.oid), k.convalidated, k.conislocal)
  FROM pg_constraint k WHERE k.connamespace = to_regnamespace(current_schema())
  UNION ALL
  SELECT 'policies', format('%s on %s: %s permissive=%s roles=%s using=%s check=%s', p.polname,
                            p.polrelid::regclass, p.polcmd, p.polpermissive, p.polroles::regrole[],
                            pg_get_expr(p.polqual, p.polrelid),
                            pg_get_expr(p.polwithcheck, p.polrelid))
  FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
  WHERE c.relnamespace = to_regnamespace(current_schema())
  UNION ALL
  SELECT 'rules', format('%s enabled=%s', pg_get_ruledef(r.oid), r.ev_enabled)
  FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
  WHERE c.relnamespace = to_regnamespace(current_schema()) AND r.rulename <> '_RETURN'
  UNION ALL
  SELECT 'objects', format('relation %s kind=%s acl=%s rls=%s force=%s', c.relname, c.relkind,
                           c.relacl, c.relrowsecurity, c.relforcerowsecurity)
  FROM pg_class c WHERE c.relnamespace = to_regnamespace(current_schema())
  UNION ALL
  SELECT 'objects', format('function %s', p.oid::regprocedure)
  FROM pg_proc p WHERE p.pronamespace = to_regnamespace(current_schema())
  UNION ALL
  SELECT 'objects', format('type %s kind=%s', t.typname, t.typtype)
  FROM pg_type t WHERE t.typnamespace = to_regnamespace(current_schema())
    AND t.typrelid = 0 AND t.typcategory <> 'A'
  UNION ALL
  SELECT 'objects', format('trigger %s on %s', t.tgname, t.tgrelid::regclass)
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
  WHERE c.relnamespace = to_regnamespace(current_schema()) AND NOT t.tgisinternal
  UNION ALL
  SELECT 'state', format('phase=%s writeLabels=%s originalLabels=%s plan=%s backfilledAt=%s '
                         'verifiedAt=%s contractedAt=%s', phase, "writeLabels", "originalLabels",
                         md5(plan), "backfilledAt" IS NOT NULL, "verifiedAt" IS NOT NULL,
                         "contractedAt" IS NOT NULL)
  FROM "StatusMigration")";

}  // namespace

StoreDigest DigestOf(const std::string& url, DigestKind kind) {
  pqxx::connection conn(url);
  pqxx::work txn(conn);
  std::map<std::string, std::vector<std::string>> lines;
  const std::string sql = absl::StrCat(RowsSql(txn, kind), "\nUNION ALL ", kCatalogSql);
  for (const pqxx::row& r : txn.exec(sql)) {
    lines[r[0].as<std::string>()].push_back(r[1].is_null() ? "NULL" : r[1].as<std::string>());
  }
  StoreDigest digest;
  for (auto& [section, rows] : lines) {
    // Enum labels keep their order within a line; lines are sorted.
    std::sort(rows.begin(), rows.end());
    digest[section] = absl::StrJoin(rows, "\n");
  }
  return digest;
}

std::string DigestText(const StoreDigest& digest) {
  std::string out;
  for (const auto& [section, lines] : digest)
    absl::StrAppend(&out, "[", section, "]\n", lines, "\n");
  return out;
}

std::string DigestDiff(const StoreDigest& expected, const StoreDigest& actual) {
  constexpr size_t kMaxLines = 6;
  std::set<std::string> sections;
  for (const auto& [s, _] : expected) sections.insert(s);
  for (const auto& [s, _] : actual) sections.insert(s);
  std::string out;
  for (const std::string& s : sections) {
    const auto e = expected.find(s);
    const auto a = actual.find(s);
    const std::string want = e == expected.end() ? "" : e->second;
    const std::string got = a == actual.end() ? "" : a->second;
    if (want == got) continue;
    const std::vector<std::string> w = absl::StrSplit(want, '\n');
    const std::vector<std::string> g = absl::StrSplit(got, '\n');
    const std::multiset<std::string> ws(w.begin(), w.end()), gs(g.begin(), g.end());
    std::vector<std::string> missing, extra;
    for (const std::string& l : w) {
      if (gs.count(l) < ws.count(l) && missing.size() < kMaxLines) missing.push_back(l);
    }
    for (const std::string& l : g) {
      if (ws.count(l) < gs.count(l) && extra.size() < kMaxLines) extra.push_back(l);
    }
    absl::StrAppend(&out, "[", s, "]\n");
    for (const std::string& l : missing) absl::StrAppend(&out, "  - ", l.substr(0, 400), "\n");
    for (const std::string& l : extra) absl::StrAppend(&out, "  + ", l.substr(0, 400), "\n");
  }
  return out;
}

std::string MigratorLeftovers(const std::string& url) {
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  std::string out;
  for (const pqxx::row& r : txn.exec(R"(
         WITH names(what, name) AS (
           SELECT 'relation', relname::text FROM pg_class
           WHERE relnamespace = to_regnamespace(current_schema())
           UNION ALL SELECT 'type', typname::text FROM pg_type
           WHERE typnamespace = to_regnamespace(current_schema())
           UNION ALL SELECT 'function', proname::text FROM pg_proc
           WHERE pronamespace = to_regnamespace(current_schema())
           UNION ALL SELECT 'constraint', conname::text FROM pg_constraint
           WHERE connamespace = to_regnamespace(current_schema())
           UNION ALL SELECT 'trigger', t.tgname::text FROM pg_trigger t
           JOIN pg_class c ON c.oid = t.tgrelid
           WHERE c.relnamespace = to_regnamespace(current_schema())
           UNION ALL SELECT 'column', format('%s.%s', c.relname, a.attname) FROM pg_attribute a
           JOIN pg_class c ON c.oid = a.attrelid
           WHERE c.relnamespace = to_regnamespace(current_schema()) AND a.attnum > 0
             AND NOT a.attisdropped)
         SELECT what || ' ' || name FROM names
         WHERE name LIKE '%\_\_next%' OR name LIKE '%\_\_wide%' ORDER BY 1)")) {
    absl::StrAppend(&out, r[0].c_str(), "\n");
  }
  return out;
}

std::string HistoryProblems(const std::string& url) {
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);
  std::string out;
  for (const pqxx::row& r : txn.exec(R"(
         WITH e AS (
           SELECT "bookingId", sequence, "fromStatus", "toStatus",
                  lag("toStatus") OVER (PARTITION BY "bookingId" ORDER BY sequence) AS before
           FROM "BookingOutbox")
         SELECT format('%s: version %s, events %s (distinct %s, max %s), broken chain links %s',
                       b.id, b.version, count(e.sequence), count(DISTINCT e.sequence),
                       max(e.sequence),
                       count(*) FILTER (WHERE e.before IS NOT NULL
                                          AND e.before IS DISTINCT FROM e."fromStatus"))
         FROM "Booking" b LEFT JOIN e ON e."bookingId" = b.id
         GROUP BY b.id, b.version
         HAVING count(e.sequence) <> b.version OR count(DISTINCT e.sequence) <> b.version
             OR COALESCE(max(e.sequence), 0) <> b.version
             OR count(*) FILTER (WHERE e.before IS NOT NULL
                                   AND e.before IS DISTINCT FROM e."fromStatus") > 0
         ORDER BY b.id LIMIT 5)")) {
    absl::StrAppend(&out, r[0].c_str(), "\n");
  }
  return out;
}

FaultRun RunMigratorWithFault(const PgCluster& pg, const std::string& url,
                              std::vector<std::string> args, const std::string& fault) {
  static std::atomic<int> runs{0};
  const std::string log = absl::StrCat(pg.dir(), "/kill-migrator-", ++runs, ".log");
  args.insert(args.begin(), MigratorBin());
  std::vector<std::string> env = {"BOOKING_DATABASE_URL=" + url, "HISTORY_DATABASE_URL="};
  if (!fault.empty()) env.push_back("BOOKING_MIGRATOR_FAULT=" + fault);
  absl::StatusOr<int> rc = RunCommand(args, env, log, absl::Minutes(5));
  FaultRun run{rc.ok() ? *rc : -1, ReadFile(log)};
  std::remove(log.c_str());
  return run;
}

absl::StatusOr<StepCount> ParseStepCount(const std::string& migrator_output) {
  for (absl::string_view line : absl::StrSplit(migrator_output, '\n')) {
    if (line.find("\"statements run\"") == absl::string_view::npos) continue;
    auto field = [&](absl::string_view name, int64_t& out) {
      const std::string key = absl::StrCat("\"", name, "\":\"");
      const size_t at = line.find(key);
      if (at == absl::string_view::npos) return false;
      absl::string_view rest = line.substr(at + key.size());
      return absl::SimpleAtoi(rest.substr(0, rest.find('"')), &out);
    };
    StepCount count;
    if (field("statements", count.statements) && field("ddl", count.ddl)) return count;
  }
  return absl::NotFoundError("no \"statements run\" line in the migrator's output");
}

ClusterAdmin::ClusterAdmin(const PgCluster& pg) : pg_(pg), conn_(pg.Url("postgres")) {}

std::string ClusterAdmin::Clone(const std::string& source, const std::string& name) {
  (void)CommitsOnceIdle(source);
  pqxx::nontransaction txn(conn_);
  // FILE_COPY: a checkpoint instead of WAL for every page; much cheaper for
  // a small database, and concurrent clones share checkpoints.
  txn.exec(absl::StrCat("CREATE DATABASE ", txn.quote_name(name), " TEMPLATE ",
                        txn.quote_name(source), " STRATEGY FILE_COPY"));
  return pg_.Url(name);
}

void ClusterAdmin::Drop(const std::string& name) {
  pqxx::nontransaction txn(conn_);
  txn.exec(absl::StrCat("DROP DATABASE IF EXISTS ", txn.quote_name(name), " WITH (FORCE)"));
}

int64_t ClusterAdmin::CommitsOnceIdle(const std::string& database) {
  int64_t commits = -1;
  const absl::Status idle = WaitFor(
      [&] {
        // A transaction of its own each time: fresh activity and statistics.
        pqxx::nontransaction txn(conn_);
        pqxx::result r = txn.exec_params(
            "SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = $1), "
            "(SELECT xact_commit FROM pg_stat_database WHERE datname = $1)",
            database);
        if (r[0][0].as<int64_t>() != 0) return false;
        commits = r[0][1].is_null() ? 0 : r[0][1].as<int64_t>();
        return true;
      },
      absl::Minutes(1), absl::StrCat("no session on ", database), absl::Milliseconds(2));
  return idle.ok() ? commits : -1;
}

void ParallelFor(int count, int threads, const std::function<void(int, int)>& fn) {
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < std::max(1, threads); ++t) {
    pool.emplace_back([&, t] {
      for (int i = next++; i < count; i = next++) fn(t, i);
    });
  }
  for (std::thread& t : pool) t.join();
}

}  // namespace booking::testing
