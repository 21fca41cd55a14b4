// Columns of the type and the indexes over them.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "migrator/status_enum/inventory.h"
#include "migrator/status_enum/inventory_sql.h"
#include "migrator/status_enum/names.h"

namespace booking::migrator {
namespace {

// Comment, privileges, statistics target and options (n_distinct, ...) of
// a column on `rel` (the table or one of its partitions): what DROP COLUMN
// would lose.
void ReadColumnExtras(Tx& tx, uint32_t rel_oid, const std::string& column, PlanObject& o) {
  pqxx::result r = tx.Params(
      R"(SELECT col_description(a.attrelid, a.attnum), a.attstattarget,
                (SELECT string_agg(format('GRANT %s (%I) ON %s TO %s', x.privilege_type, a.attname,
                                          a.attrelid::regclass,
                                          CASE WHEN x.grantee = 0 THEN 'PUBLIC'
                                               ELSE quote_ident(pg_get_userbyid(x.grantee)) END),
                                   E'\n')
                 FROM aclexplode(a.attacl) x),
                array_to_string(a.attoptions, ', '), a.attrelid::regclass::text
         FROM pg_attribute a
         WHERE a.attrelid = $1 AND a.attname = $2)",
      rel_oid, column);
  if (r.empty()) return;
  const std::string rel = r[0][4].as<std::string>();
  const std::string target = absl::StrCat(rel, " ALTER COLUMN ", tx.Name(column));
  if (!r[0][0].is_null()) {
    o.add_restore(absl::StrCat("COMMENT ON COLUMN ", rel, ".", tx.Name(column), " IS ",
                               tx.Quote(r[0][0].as<std::string>())));
  }
  if (r[0][1].as<int>() >= 0) {
    o.add_restore(absl::StrCat("ALTER TABLE ", target, " SET STATISTICS ", r[0][1].as<int>()));
  }
  if (!r[0][3].is_null() && !r[0][3].as<std::string>().empty()) {
    o.add_restore(absl::StrCat("ALTER TABLE ", target, " SET (", r[0][3].as<std::string>(), ")"));
  }
  if (!r[0][2].is_null()) {
    for (absl::string_view g : absl::StrSplit(r[0][2].as<std::string>(), '\n')) {
      o.add_restore(std::string(g));
    }
  }
}

// The partitions of a partitioned table's column: the leaves hold the rows
// (copied in batches) and their own settings; every partition is changed
// with the table (PostgreSQL requires its owner), and a default of its own
// would be lost (the new column gets the table's).
void ReadPartitions(Tx& tx, uint32_t oid, PlanObject& o, StatusPlan& plan) {
  for (const pqxx::row& p : tx.Params(
           R"(SELECT t.relid::regclass::text, t.relid::oid, t.isleaf,
                     pg_get_userbyid(c.relowner), pg_has_role(c.relowner, 'USAGE'),
                     COALESCE(pg_get_expr(d.adbin, d.adrelid), '')
              FROM pg_partition_tree($1) t JOIN pg_class c ON c.oid = t.relid
              LEFT JOIN pg_attribute a ON a.attrelid = t.relid AND a.attname = $2
              LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE t.relid <> $1 ORDER BY 1)",
           oid, o.column())) {
    const std::string name = p[0].as<std::string>();
    if (p[2].as<bool>()) {
      o.add_leaves(name);
      ReadColumnExtras(tx, p[1].as<uint32_t>(), o.column(), o);
    }
    if (!p[4].as<bool>()) {
      o.set_can_alter(false);
      o.set_owner(p[3].as<std::string>());  // the refusal names the grant this partition needs
    }
    if (p[5].as<std::string>() != o.definition()) {
      AddFound(plan, "partition default", absl::StrCat(name, ".", o.printed_column()));
    }
  }
}

// The columns of ReadColumns' query: 0 oid, 1 table, 2 relkind, 3 is a
// partition, 4 of the type itself, 5 name, 6 printed name, 7 NOT NULL,
// 8 generated, 9 default, 10 inherited, 11 partition key, 12 default's
// stored form, 13 position, 14 columns, 15 raw table name, 16 type kind,
// 17-21 owner facts, 22 persistence.
void AddColumn(Tx& tx, const pqxx::row& row, StatusPlan& plan) {
  PlanObject& o = *plan.add_objects();
  o.set_kind("column");
  o.set_table(row[1].as<std::string>());
  o.set_table_raw(row[15].as<std::string>());
  o.set_column(row[5].as<std::string>());
  o.set_printed_column(row[6].as<std::string>());
  o.set_shadow_column(tx.Name(ShadowColumn(o.column())));
  o.set_name(absl::StrCat(o.table(), ".", o.printed_column()));
  o.set_not_null(row[7].as<bool>());
  o.set_definition(row[9].as<std::string>());  // its default
  if (!row[12].is_null()) {
    auto& e = *o.add_exprs();
    e.set_use("value");
    e.set_tree(row[12].as<std::string>());
  }
  o.set_oid(row[0].as<uint32_t>());
  o.set_position(row[13].as<int>());
  o.set_columns(row[14].as<int>());
  SetOwnerFacts(row, 17, o);
  const uint32_t oid = row[0].as<uint32_t>();
  ReadColumnExtras(tx, oid, o.column(), o);
  if (row[2].as<std::string>() == "p") {
    ReadPartitions(tx, oid, o, plan);
  } else {
    o.add_leaves(o.table());
  }
}

// A column of a type holding the status type (not the type itself).
std::string ContainerKind(const pqxx::row& row) {
  const std::string relkind = row[2].as<std::string>();
  if (relkind == "c") return "composite type";
  if (relkind == "f") return "foreign table";
  const std::string t = row[16].as<std::string>();
  if (t == "array") return "array column";
  if (t == "d") return "domain column";
  if (t == "r" || t == "m") return "range column";
  return "row value column";
}

}  // namespace

void ReadColumns(Tx& tx, const StoreInfo& store, StatusPlan& plan) {
  pqxx::result r =
      tx.Params(absl::StrCat(
                    R"(SELECT c.oid, c.oid::regclass::text, c.relkind::text, c.relispartition,
                a.atttypid = $1, a.attname::text, quote_ident(a.attname), a.attnotnull,
                a.attgenerated::text, COALESCE(pg_get_expr(d.adbin, d.adrelid), ''),
                (a.attinhcount > 0 AND NOT c.relispartition)
                  OR (c.relkind = 'r' AND c.relhassubclass),
                EXISTS (SELECT 1 FROM pg_partitioned_table p
                        WHERE p.partrelid = c.oid AND a.attnum = ANY (p.partattrs::int2[])),
                d.adbin::text,
                (SELECT count(*) FROM pg_attribute x WHERE x.attrelid = c.oid AND x.attnum > 0
                   AND NOT x.attisdropped AND x.attnum <= a.attnum),
                (SELECT count(*) FROM pg_attribute x WHERE x.attrelid = c.oid AND x.attnum > 0
                   AND NOT x.attisdropped),
                c.relname::text,
                (SELECT CASE WHEN t.typsubscript = 'array_subscript_handler'::regproc THEN 'array'
                             ELSE t.typtype::text END FROM pg_type t WHERE t.oid = a.atttypid),
                )",
                    OwnerFactsSql("c.oid"), R"(, c.relpersistence::text
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND a.attnum = d.adnum
         WHERE a.atttypid = ANY ($2::oid[])
           AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f', 'c')
         ORDER BY 2, 6)"),
                store.type_oid, TaintedTypesLiteral(plan));
  for (const pqxx::row& row : r) {
    const std::string relkind = row[2].as<std::string>();
    const std::string name = absl::StrCat(row[1].c_str(), ".", row[6].c_str());
    if (row[22].as<std::string>() == "t") {
      AddFound(plan, "temporary table", name);
    } else if (row[3].as<bool>() && relkind != "f") {
      continue;  // a partition: carried (or refused) with its table
    } else if (relkind == "c") {
      AddFound(plan, "composite type", absl::StrCat("type ", row[1].c_str()));
    } else if (!row[4].as<bool>() || relkind == "f") {
      PlanObject& o = AddFound(plan, ContainerKind(row), name);  // verify looks inside
      o.set_table(row[1].as<std::string>());
      o.set_column(row[5].as<std::string>());
      o.set_printed_column(row[6].as<std::string>());
      o.set_oid(row[0].as<uint32_t>());
      SetOwnerFacts(row, 17, o);
    } else if (row[10].as<bool>()) {
      AddFound(plan, "inherited table", name);
    } else if (row[11].as<bool>()) {
      AddFound(plan, "partition key", name);
    } else if (row[8].as<std::string>() == "s") {
      AddFound(plan, "generated column", name);
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

// The columns of ReadIndexes' query: 0 oid, 1 raw name, 2 table, 3 name,
// 4 definition, 5 unique, 6 valid, 7 constraint type, 8 replica identity,
// 9 relkind, 10 a partition's, 11 clustered, 12 comment, 13 keyed on the
// type, 14 expressions, 15 predicate, 16-20 the table's owner facts.
void AddIndex(Tx& tx, const pqxx::row& row, StatusPlan& plan) {
  PlanObject& o = *plan.add_objects();
  o.set_kind("index");
  o.set_raw_name(row[1].as<std::string>());
  o.set_table(row[2].as<std::string>());
  o.set_name(row[3].as<std::string>());
  o.set_definition(row[4].as<std::string>());
  o.set_unique(row[5].as<bool>());
  o.set_partitioned(row[9].as<std::string>() == "I");
  o.set_oid(row[0].as<uint32_t>());
  for (const auto& [col, use] : {std::pair<int, const char*>{14, "value"}, {15, "condition"}}) {
    if (row[col].is_null()) continue;
    auto& e = *o.add_exprs();
    e.set_use(use);
    e.set_tree(row[col].as<std::string>());
  }
  SetOwnerFacts(row, 16, o);
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
                        AND a.atttypid = $1),
                    i.indexprs::text, i.indpred::text, )",
          OwnerFactsSql("i.indrelid"), R"(
             FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
             LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x')
             WHERE )",
          DependsOnTypeSql("'pg_class'::regclass", "i.indexrelid", "$1"), " ORDER BY 3, 2"),
      store.type_oid);
  for (const pqxx::row& row : r) {
    const std::string name = row[3].as<std::string>();
    const std::string raw = row[1].as<std::string>();
    if (row[10].as<bool>()) continue;  // a partition's share of a partitioned index
    if (absl::EndsWith(raw, "__wide") || absl::EndsWith(raw, "__next")) {
      AddFound(plan, "migrator's name", name, "an index");  // ours, or refused at phase none
    } else if (!row[7].as<std::string>().empty()) {
      AddFound(plan, "constraint index", name);
    } else if (row[13].as<bool>()) {
      AddFound(plan, "unique index on status", name);
    } else if (row[8].as<bool>()) {
      AddFound(plan, "replica identity", name);
    } else if (!row[6].as<bool>()) {
      AddFound(plan, "invalid index", name);
    } else {
      AddIndex(tx, row, plan);
    }
  }
}

}  // namespace booking::migrator
