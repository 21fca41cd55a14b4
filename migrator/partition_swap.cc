// The swap to the partitioned table and the partitions ahead
// (partition_steps.h).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "migrator/partition_inventory.h"
#include "migrator/partition_steps.h"
#include "pqxx/pqxx"

namespace booking::migrator {
namespace {

constexpr char kParted[] = "BookingStatusHistory_parted";
constexpr char kPrefix[] = "BookingStatusHistory_";

// What the old table has that the partitioned one takes as it is: its
// append-only and keys triggers and the canonical-content function over its
// row type (made again for the new row type), and its owner and grants
// (each partition is the parent's owner's too). Read before
// the rename, so each definition names "BookingStatusHistory", which is
// the partitioned table when it runs.
struct Carried {
  std::vector<std::string> triggers, grants;
  std::string canonical;
};

Carried ReadCarried(pqxx::transaction_base& txn) {
  Carried c;
  for (const pqxx::row& r : txn.exec(R"(SELECT pg_get_triggerdef(oid) AS def FROM pg_trigger
        WHERE tgrelid = to_regclass('"BookingStatusHistory"') AND NOT tgisinternal ORDER BY tgname)")) {
    c.triggers.push_back(r["def"].as<std::string>());
  }
  c.grants.push_back(txn.exec1(R"(SELECT format('ALTER TABLE "BookingStatusHistory" OWNER TO %I',
        pg_get_userbyid(relowner)) FROM pg_class
        WHERE oid = to_regclass('"BookingStatusHistory"'))")[0]
                         .as<std::string>());
  for (const pqxx::row& r : txn.exec(R"(SELECT format('GRANT %s ON "BookingStatusHistory" TO %s',
          a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                                 ELSE quote_ident(pg_get_userbyid(a.grantee)) END) AS def
        FROM pg_class t, aclexplode(t.relacl) AS a
        WHERE t.oid = to_regclass('"BookingStatusHistory"') AND a.grantee <> t.relowner)")) {
    c.grants.push_back(r["def"].as<std::string>());
  }
  const pqxx::result f = txn.exec(R"(SELECT pg_get_functiondef(p) AS def FROM
      to_regprocedure('"BookingStatusHistory_canonical"("BookingStatusHistory")') AS p
      WHERE p IS NOT NULL)");
  if (!f.empty()) c.canonical = f[0]["def"].as<std::string>();
  return c;
}

// The partitioned table made beside the old one, renamed into its place,
// the old one attached (its validated CHECK spares the scan; its indexes
// match the shared ones, so none is built).
std::string SwapSql(pqxx::transaction_base& txn, const std::string& bound) {
  const std::string parted = txn.quote_name(kParted);
  std::string sql =
      absl::StrCat("CREATE TABLE ", parted, R"( (LIKE "BookingStatusHistory" INCLUDING DEFAULTS
        INCLUDING CONSTRAINTS) PARTITION BY RANGE ("recordedAt");
      ALTER TABLE )",
                   parted, " DROP CONSTRAINT ", txn.quote_name(kBeforeBound), ";\n");
  for (const auto& [name, definition] : SharedIndexes()) {
    const std::string all = absl::StrCat(kPrefix, "all_", name.substr(sizeof(kPrefix) - 1));
    absl::StrAppend(&sql, "CREATE INDEX ", txn.quote_name(all), " ON ONLY ", parted, " USING ",
                    definition, ";\n");
  }
  absl::StrAppend(&sql, R"(
      DROP TRIGGER IF EXISTS "BookingStatusHistory_no_update_delete" ON "BookingStatusHistory";
      ALTER TABLE "BookingStatusHistory" RENAME TO "BookingStatusHistory_before";
      ALTER TABLE )",
                  parted, R"( RENAME TO "BookingStatusHistory";
      ALTER TABLE "BookingStatusHistory" ATTACH PARTITION "BookingStatusHistory_before"
        FOR VALUES FROM (MINVALUE) TO ()",
                  txn.quote(bound), R"();
      REVOKE UPDATE, DELETE, TRUNCATE ON "BookingStatusHistory" FROM PUBLIC;
  )");
  return sql;
}

// A month's partition: "BookingStatusHistory_yYYYYmMM" for [from, to).
std::string PartitionSql(pqxx::transaction_base& txn, const std::string& name,
                         const std::string& from, const std::string& to) {
  const std::string t = txn.quote_name(name);
  return absl::StrCat(
      "CREATE TABLE ", t,
      R"( (LIKE "BookingStatusHistory" INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
      ALTER TABLE )",
      t, " ADD CONSTRAINT ", txn.quote_name(name + "_pkey"), " PRIMARY KEY (id), ADD CONSTRAINT ",
      txn.quote_name(name + "_eventId_key"), R"( UNIQUE ("eventId"), ADD CONSTRAINT )",
      txn.quote_name(name + "_bookingId_sequence_key"), R"( UNIQUE ("bookingId", sequence);
      CREATE TRIGGER "BookingStatusHistory_no_truncate" BEFORE TRUNCATE ON )",
      t, R"( FOR EACH STATEMENT EXECUTE FUNCTION "BookingStatusHistory_refuse_change"();
      ALTER TABLE "BookingStatusHistory" ATTACH PARTITION )",
      t, " FOR VALUES FROM (", txn.quote(from), ") TO (", txn.quote(to), R"();
      DO $$ BEGIN EXECUTE format('ALTER TABLE %I OWNER TO %I', )",
      txn.quote(name), R"(, (SELECT pg_get_userbyid(relowner) FROM pg_class
                             WHERE oid = to_regclass('"BookingStatusHistory"'))); END $$)");
}

// The partitions a run wants: from the first partition's end to
// `months_ahead` months past the current one, with whether each exists.
constexpr char kWantedSql[] = R"(
    SELECT name, m::text AS "from", (m + interval '1 month')::text AS "to",
           to_regclass(quote_ident(name)) IS NOT NULL AS present
    FROM (SELECT m, 'BookingStatusHistory_y' || to_char(m, 'YYYY') || 'm' || to_char(m, 'MM') AS name
          FROM generate_series(
                 (SELECT (regexp_match(pg_get_expr(relpartbound, oid), 'TO \(''([^'']+)''\)'))[1]
                  FROM pg_class WHERE oid = to_regclass('"BookingStatusHistory_before"'))::timestamp,
                 date_trunc('month', timezone('UTC', now())) + make_interval(months => $1),
                 interval '1 month') AS m) AS w
    ORDER BY m)";

// Every partition of the table that is not one this change makes, with
// its bound: a default partition, another name, another range.
constexpr char kForeignPartitionsSql[] = R"(
    SELECT format('partition %I %s', c.relname, pg_get_expr(c.relpartbound, c.oid)) AS what
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = to_regclass('"BookingStatusHistory"')
      AND NOT (c.relname = 'BookingStatusHistory_before'
               AND pg_get_expr(c.relpartbound, c.oid) LIKE 'FOR VALUES FROM (MINVALUE) TO (%')
      AND NOT (c.relname ~ '^BookingStatusHistory_y[0-9]{4}m[0-9]{2}$'
               AND pg_get_expr(c.relpartbound, c.oid) = format('FOR VALUES FROM (%L) TO (%L)',
                     to_date(substr(c.relname, 23), 'YYYY"m"MM')::timestamp::text,
                     (to_date(substr(c.relname, 23), 'YYYY"m"MM') + interval '1 month')::text))
    ORDER BY 1)";

}  // namespace

absl::Status SwapToPartitioned(pqxx::connection& conn, const PartitionOptions& options,
                               const std::string& bound, std::ostream& out) {
  absl::Duration held;
  absl::Status s = WithShortLocks(conn, options, [&](pqxx::work& txn) -> absl::Status {
    txn.exec(R"(LOCK TABLE "BookingStatusHistory" IN ACCESS EXCLUSIVE MODE)");
    const absl::Time locked = absl::Now();
    if (std::vector<std::string> unknown = UnknownDependents(txn); !unknown.empty()) {
      return RefusedForDependents(unknown);
    }
    const Carried carried = ReadCarried(txn);
    txn.exec(SwapSql(txn, bound));
    for (const std::string& trigger : carried.triggers) {
      txn.exec(trigger);  // a row trigger is cloned to every partition, the old table too
    }
    for (const std::string& grant : carried.grants) txn.exec(grant);
    if (!carried.canonical.empty()) txn.exec(carried.canonical);
    held = absl::Now() - locked;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  out << "partition-history: \"BookingStatusHistory\" is partitioned by \"recordedAt\"; the table "
         "as it was is its partition \"BookingStatusHistory_before\" (rows recorded before "
      << bound << "); held ACCESS EXCLUSIVE " << absl::FormatDuration(held) << "\n";
  return absl::OkStatus();
}

absl::Status EnsurePartitions(pqxx::connection& conn, const PartitionOptions& options,
                              std::ostream& out) {
  pqxx::result wanted;
  {
    pqxx::read_transaction txn(conn);
    std::vector<std::string> foreign;
    for (const pqxx::row& r : txn.exec(kForeignPartitionsSql)) foreign.push_back(r[0].c_str());
    if (!foreign.empty()) return RefusedForDependents(foreign);
    wanted = txn.exec_params(kWantedSql, options.months_ahead);
  }
  int created = 0;
  for (const pqxx::row& r : wanted) {
    if (r["present"].as<bool>()) continue;
    const std::string name = r["name"].as<std::string>();
    if (options.dry_run) {
      out << "partition-history (dry run): would create " << name << "\n";
      continue;
    }
    absl::Status s = WithShortLocks(conn, options, [&](pqxx::work& txn) {
      txn.exec(PartitionSql(txn, name, r["from"].as<std::string>(), r["to"].as<std::string>()));
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    out << "partition-history: created partition " << name << " [" << r["from"].c_str() << ", "
        << r["to"].c_str() << ")\n";
    ++created;
  }
  if (options.dry_run) return absl::OkStatus();
  out << "partition-history: done; " << created << " partition(s) created, " << wanted.size()
      << " ahead of the first partition's end up to " << options.months_ahead
      << " month(s) past now\n";
  return absl::OkStatus();
}

}  // namespace booking::migrator
