// Columns of the type and the indexes over them.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "migrator/status_enum/inventory.h"
#include "migrator/status_enum/inventory_sql.h"
#include "migrator/status_enum/names.h"

namespace booking::migrator {
namespace {

// Comment, privileges and statistics target of a column: what DROP COLUMN
// would lose.
void ReadColumnExtras(Tx& tx, uint32_t table_oid, const std::string& column, PlanObject& o) {
  pqxx::result r = tx.Params(
      R"(SELECT col_description(a.attrelid, a.attnum), a.attstattarget,
                (SELECT string_agg(format('GRANT %s (%I) ON %s TO %s', x.privilege_type, a.attname,
                                          a.attrelid::regclass,
                                          CASE WHEN x.grantee = 0 THEN 'PUBLIC'
                                               ELSE quote_ident(pg_get_userbyid(x.grantee)) END),
                                   E'\n')
                 FROM aclexplode(a.attacl) x)
         FROM pg_attribute a WHERE a.attrelid = $1 AND a.attname = $2)",
      table_oid, column);
  const std::string target = absl::StrCat(o.table(), " ALTER COLUMN ", tx.Name(column));
  if (!r[0][0].is_null()) {
    o.add_restore(absl::StrCat("COMMENT ON COLUMN ", o.table(), ".", tx.Name(column), " IS ",
                               tx.Quote(r[0][0].as<std::string>())));
  }
  if (r[0][1].as<int>() >= 0) {
    o.add_restore(absl::StrCat("ALTER TABLE ", target, " SET STATISTICS ", r[0][1].as<int>()));
  }
  if (!r[0][2].is_null()) {
    for (absl::string_view g : absl::StrSplit(r[0][2].as<std::string>(), '\n')) {
      o.add_restore(std::string(g));
    }
  }
}

void AddColumn(Tx& tx, const pqxx::row& row, StatusPlan& plan) {
  PlanObject& o = *plan.add_objects();
  o.set_kind("column");
  o.set_table(row[1].as<std::string>());
  o.set_column(row[5].as<std::string>());
  o.set_printed_column(row[6].as<std::string>());
  o.set_shadow_column(tx.Name(ShadowColumn(o.column())));
  o.set_name(absl::StrCat(o.table(), ".", o.printed_column()));
  o.set_not_null(row[7].as<bool>());
  o.set_definition(row[9].as<std::string>());  // its default
  const uint32_t oid = row[0].as<uint32_t>();
  if (row[2].as<std::string>() == "p") {
    for (const pqxx::row& leaf : tx.Params(
             R"(SELECT t.relid::regclass::text, c.relkind::text FROM pg_partition_tree($1) t
                JOIN pg_class c ON c.oid = t.relid WHERE t.isleaf ORDER BY 1)",
             oid)) {
      o.add_leaves(leaf[0].as<std::string>());
    }
  } else {
    o.add_leaves(o.table());
  }
  ReadColumnExtras(tx, oid, o.column(), o);
}

}  // namespace

void ReadColumns(Tx& tx, const StoreInfo& store, StatusPlan& plan) {
  pqxx::result r = tx.Params(
      R"(SELECT c.oid, c.oid::regclass::text, c.relkind::text, c.relispartition,
                a.atttypid = $1, a.attname::text, quote_ident(a.attname), a.attnotnull,
                a.attgenerated::text, COALESCE(pg_get_expr(d.adbin, d.adrelid), ''),
                (a.attinhcount > 0 AND NOT c.relispartition)
                  OR (c.relkind = 'r' AND c.relhassubclass),
                EXISTS (SELECT 1 FROM pg_partitioned_table p
                        WHERE p.partrelid = c.oid AND a.attnum = ANY (p.partattrs::int2[]))
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.atttypid IN ($1, (SELECT typarray FROM pg_type WHERE oid = $1))
           AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f', 'c')
         ORDER BY 2, 6)",
      store.type_oid);
  for (const pqxx::row& row : r) {
    const std::string relkind = row[2].as<std::string>();
    const std::string name = absl::StrCat(row[1].c_str(), ".", row[6].c_str());
    if (relkind == "c") {
      AddRefused(plan, "composite type", absl::StrCat("type ", row[1].c_str()),
                 "a composite type has an attribute of the status type; PostgreSQL cannot change "
                 "it in place",
                 "change that attribute to text (or drop the type) before expand");
    } else if (relkind == "f") {
      AddRefused(plan, "foreign table", name,
                 "a foreign table's column has the type; its rows live elsewhere",
                 "change the column to text before expand, and back after contract");
    } else if (!row[4].as<bool>()) {
      AddRefused(plan, "array column", name,
                 "a column is an array of the type; its elements cannot be relabelled in batches",
                 "change it to text[] (or a child table) before expand");
    } else if (row[3].as<bool>()) {
      continue;  // a partition: carried with its partitioned table
    } else if (row[10].as<bool>()) {
      AddRefused(plan, "inherited table", name,
                 "table inheritance (not partitioning) links this column to others",
                 "detach the inheritance children (or turn them into partitions) before expand");
    } else if (row[11].as<bool>()) {
      AddRefused(plan, "partition key", name,
                 "the table is partitioned by the status column: its partition bounds name "
                 "labels and the key's type cannot change without rebuilding the table",
                 "repartition by another column before expand");
    } else if (row[8].as<std::string>() == "s") {
      AddRefused(plan, "generated column", name,
                 "a stored generated column of the type: PostgreSQL 15 cannot change its "
                 "expression or type without rewriting the table",
                 "drop the generated column before expand and add it back after contract, or "
                 "make it a plain column");
    } else {
      AddColumn(tx, row, plan);
    }
  }
}

namespace {

void ReadIndexChildren(Tx& tx, uint32_t index_oid, PlanObject& o) {
  for (const pqxx::row& c : tx.Params(
           R"(SELECT i.indrelid::regclass::text, ic.relname::text
              FROM pg_partition_tree($1) t JOIN pg_index i ON i.indexrelid = t.relid
              JOIN pg_class ic ON ic.oid = i.indexrelid
              WHERE t.isleaf ORDER BY 1)",
           index_oid)) {
    o.add_children(absl::StrCat(c[0].c_str(), "|", c[1].c_str()));
  }
}

void AddIndex(Tx& tx, const pqxx::row& row, StatusPlan& plan) {
  PlanObject& o = *plan.add_objects();
  o.set_kind("index");
  o.set_raw_name(row[1].as<std::string>());
  o.set_table(row[2].as<std::string>());
  o.set_name(row[3].as<std::string>());
  o.set_definition(row[4].as<std::string>());
  o.set_unique(row[5].as<bool>());
  o.set_partitioned(row[9].as<std::string>() == "I");
  if (o.partitioned()) ReadIndexChildren(tx, row[0].as<uint32_t>(), o);
  if (!row[12].is_null()) {
    o.add_restore(
        absl::StrCat("COMMENT ON INDEX ", o.name(), " IS ", tx.Quote(row[12].as<std::string>())));
  }
  if (row[11].as<bool>()) {
    o.add_restore(absl::StrCat("ALTER TABLE ", o.table(), " CLUSTER ON ", tx.Name(o.raw_name())));
  }
}

}  // namespace

void ReadIndexes(Tx& tx, const StoreInfo& store, StatusPlan& plan) {
  pqxx::result r = tx.Params(
      absl::StrCat(
          R"(SELECT i.indexrelid, ic.relname::text, i.indrelid::regclass::text,
                    i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), i.indisunique,
                    i.indisvalid, COALESCE(k.contype::text, ''), i.indisreplident,
                    ic.relkind::text,
                    EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid),
                    i.indisclustered, obj_description(i.indexrelid, 'pg_class'),
                    i.indisunique AND EXISTS (
                      SELECT 1 FROM pg_attribute a
                      WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])
                        AND a.atttypid = $1)
             FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
             LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x')
             WHERE )",
          DependsOnTypeSql("'pg_class'::regclass", "i.indexrelid", "$1"), " ORDER BY 3, 2"),
      store.type_oid);
  for (const pqxx::row& row : r) {
    const std::string name = row[3].as<std::string>();
    const std::string raw = row[1].as<std::string>();
    if (row[10].as<bool>()) continue;  // a partition's share of a partitioned index
    if (raw.size() > 6 && raw.compare(raw.size() - 6, 6, "__wide") == 0) continue;  // ours
    if (!row[7].as<std::string>().empty()) {
      AddRefused(plan, "constraint index", name,
                 "it backs a primary key, unique or exclusion constraint on a column of the type",
                 "replace the constraint by a unique index (CREATE UNIQUE INDEX CONCURRENTLY, then "
                 "ALTER TABLE ... DROP CONSTRAINT) before expand");
    } else if (row[13].as<bool>()) {
      AddRefused(plan, "unique index on status", name,
                 "a unique index has a column of the type in its key: while both label sets are "
                 "in use, an old label and its new one are different keys for the same status, "
                 "so it cannot enforce what it did (and a relabel could collide)",
                 "drop it before expand and create it again after contract, or key it on a "
                 "column that is not of the type");
    } else if (row[8].as<bool>()) {
      AddRefused(plan, "replica identity", name,
                 "it is the table's replica identity; logical replication would lose it",
                 "set another replica identity before expand");
    } else if (!row[6].as<bool>()) {
      AddRefused(plan, "invalid index", name,
                 "the index is invalid (an interrupted CREATE INDEX CONCURRENTLY?)",
                 "drop it (DROP INDEX CONCURRENTLY) or rebuild it (REINDEX INDEX CONCURRENTLY) "
                 "before expand");
    } else {
      AddIndex(tx, row, plan);
    }
  }
}

}  // namespace booking::migrator
