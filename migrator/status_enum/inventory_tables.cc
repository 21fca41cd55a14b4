// Columns of the type and the indexes over them.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "migrator/status_enum/db.h"
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
      R"(SELECT col_description(a.attrelid, a.attnum) AS comment, a.attstattarget AS stat_target,
                (SELECT string_agg(format('GRANT %s (%I) ON %s TO %s', x.privilege_type, a.attname,
                                          a.attrelid::regclass,
                                          CASE WHEN x.grantee = 0 THEN 'PUBLIC'
                                               ELSE quote_ident(pg_get_userbyid(x.grantee)) END),
                                   E'\n')
                 FROM aclexplode(a.attacl) x) AS grants,
                array_to_string(a.attoptions, ', ') AS options, a.attrelid::regclass::text AS rel
         FROM pg_attribute a
         WHERE a.attrelid = $1 AND a.attname = $2)",
      rel_oid, column);
  if (r.empty()) return;
  const pqxx::row row = r.front();
  const std::string rel = row["rel"].as<std::string>();
  const std::string target = absl::StrCat(rel, " ALTER COLUMN ", tx.Name(column));
  if (!row["comment"].is_null()) {
    o.add_restore(absl::StrCat("COMMENT ON COLUMN ", rel, ".", tx.Name(column), " IS ",
                               tx.Quote(row["comment"].as<std::string>())));
  }
  if (const int stat_target = row["stat_target"].as<int>(); stat_target >= 0) {
    o.add_restore(absl::StrCat("ALTER TABLE ", target, " SET STATISTICS ", stat_target));
  }
  if (!row["options"].is_null() && !row["options"].as<std::string>().empty()) {
    o.add_restore(
        absl::StrCat("ALTER TABLE ", target, " SET (", row["options"].as<std::string>(), ")"));
  }
  if (!row["grants"].is_null()) {
    for (absl::string_view g : absl::StrSplit(row["grants"].as<std::string>(), '\n')) {
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
           R"(SELECT t.relid::regclass::text AS part_name, t.relid::oid AS part_oid,
                     t.isleaf AS is_leaf, pg_get_userbyid(c.relowner) AS part_owner,
                     pg_has_role(c.relowner, 'USAGE') AS can_alter,
                     COALESCE(pg_get_expr(d.adbin, d.adrelid), '') AS part_default
              FROM pg_partition_tree($1) t JOIN pg_class c ON c.oid = t.relid
              LEFT JOIN pg_attribute a ON a.attrelid = t.relid AND a.attname = $2
              LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE t.relid <> $1 ORDER BY 1)",
           oid, o.column())) {
    const std::string name = p["part_name"].as<std::string>();
    if (p["is_leaf"].as<bool>()) {
      o.add_leaves(name);
      ReadColumnExtras(tx, p["part_oid"].as<uint32_t>(), o.column(), o);
    }
    if (!p["can_alter"].as<bool>()) {
      o.set_can_alter(false);
      o.set_owner(p["part_owner"].as<std::string>());  // the refusal names the grant it needs
    }
    if (p["part_default"].as<std::string>() != o.definition()) {
      AddFound(plan, "partition default", absl::StrCat(name, ".", o.printed_column()));
    }
  }
}

// ReadColumns' query: every column of the type or of a type holding it
// ($2), on tables, partitions, foreign tables and composite types.
std::string ColumnsSql() {
  return absl::StrCat(
      R"(SELECT c.oid AS rel_oid, c.oid::regclass::text AS rel_name, c.relkind::text AS relkind,
                c.relispartition AS is_partition, a.atttypid = $1 AS of_type,
                a.attname::text AS column_name, quote_ident(a.attname) AS printed_column,
                a.attnotnull AS not_null, a.attgenerated::text AS generated,
                COALESCE(pg_get_expr(d.adbin, d.adrelid), '') AS default_expr,
                (a.attinhcount > 0 AND NOT c.relispartition)
                  OR (c.relkind = 'r' AND c.relhassubclass) AS inherited,
                EXISTS (SELECT 1 FROM pg_partitioned_table p
                        WHERE p.partrelid = c.oid AND a.attnum = ANY (p.partattrs::int2[]))
                  AS partition_key,
                d.adbin::text AS default_tree,
                (SELECT count(*) FROM pg_attribute x WHERE x.attrelid = c.oid AND x.attnum > 0
                   AND NOT x.attisdropped AND x.attnum <= a.attnum) AS col_position,
                (SELECT count(*) FROM pg_attribute x WHERE x.attrelid = c.oid AND x.attnum > 0
                   AND NOT x.attisdropped) AS col_count,
                c.relname::text AS rel_raw_name,
                (SELECT CASE WHEN t.typsubscript = 'array_subscript_handler'::regproc THEN 'array'
                             ELSE t.typtype::text END FROM pg_type t WHERE t.oid = a.atttypid)
                  AS type_kind,
                )",
      OwnerFactsSql("c.oid"), R"(, c.relpersistence::text AS persistence
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND a.attnum = d.adnum
         WHERE a.atttypid = ANY ($2::oid[])
           AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f', 'c')
         ORDER BY 2, 6)");
}

// A row of ColumnsSql.
struct ColumnFact {
  uint32_t oid = 0;
  std::string table;  // as regclass prints it
  std::string table_raw;
  std::string relkind;
  bool is_partition = false;
  bool of_type = false;        // of the type itself, not of a type holding it
  std::string column;          // raw
  std::string printed_column;  // quoted as needed
  bool not_null = false;
  std::string generated;
  std::string default_expr;  // printed, "" when none
  bool inherited = false;
  bool partition_key = false;
  std::optional<std::string> default_tree;  // the default's stored form
  int position = 0;                         // among the table's live columns
  int columns = 0;
  std::string type_kind;  // "array", or pg_type.typtype
  std::string persistence;
  OwnerFacts owner;

  static ColumnFact FromRow(const pqxx::row& row) {
    ColumnFact c;
    c.oid = row["rel_oid"].as<uint32_t>();
    c.table = row["rel_name"].as<std::string>();
    c.table_raw = row["rel_raw_name"].as<std::string>();
    c.relkind = row["relkind"].as<std::string>();
    c.is_partition = row["is_partition"].as<bool>();
    c.of_type = row["of_type"].as<bool>();
    c.column = row["column_name"].as<std::string>();
    c.printed_column = row["printed_column"].as<std::string>();
    c.not_null = row["not_null"].as<bool>();
    c.generated = row["generated"].as<std::string>();
    c.default_expr = row["default_expr"].as<std::string>();
    c.inherited = row["inherited"].as<bool>();
    c.partition_key = row["partition_key"].as<bool>();
    if (!row["default_tree"].is_null()) c.default_tree = row["default_tree"].as<std::string>();
    c.position = row["col_position"].as<int>();
    c.columns = row["col_count"].as<int>();
    c.type_kind = row["type_kind"].as<std::string>();
    c.persistence = row["persistence"].as<std::string>();
    c.owner = OwnerFacts::FromRow(row);
    return c;
  }
};

void AddColumn(Tx& tx, const ColumnFact& c, StatusPlan& plan) {
  PlanObject& o = *plan.add_objects();
  o.set_kind("column");
  o.set_table(c.table);
  o.set_table_raw(c.table_raw);
  o.set_column(c.column);
  o.set_printed_column(c.printed_column);
  o.set_shadow_column(tx.Name(ShadowColumn(o.column())));
  o.set_name(absl::StrCat(o.table(), ".", o.printed_column()));
  o.set_not_null(c.not_null);
  o.set_definition(c.default_expr);  // its default
  if (c.default_tree) {
    auto& e = *o.add_exprs();
    e.set_use("value");
    e.set_tree(*c.default_tree);
  }
  o.set_oid(c.oid);
  o.set_position(c.position);
  o.set_columns(c.columns);
  c.owner.SetOn(o);
  ReadColumnExtras(tx, c.oid, o.column(), o);
  if (c.relkind == "p") {
    ReadPartitions(tx, c.oid, o, plan);
  } else {
    o.add_leaves(o.table());
  }
}

// A column of a type holding the status type (not the type itself).
std::string ContainerKind(const ColumnFact& c) {
  if (c.relkind == "c") return "composite type";
  if (c.relkind == "f") return "foreign table";
  const std::string& t = c.type_kind;
  if (t == "array") return "array column";
  if (t == "d") return "domain column";
  if (t == "r" || t == "m") return "range column";
  return "row value column";
}

}  // namespace

void ReadColumns(Tx& tx, const StoreInfo& store, StatusPlan& plan) {
  for (const pqxx::row& row : tx.Params(ColumnsSql(), store.type_oid, TaintedTypesLiteral(plan))) {
    const ColumnFact c = ColumnFact::FromRow(row);
    const std::string name = absl::StrCat(c.table, ".", c.printed_column);
    if (c.persistence == "t") {
      AddFound(plan, "temporary table", name);
    } else if (c.is_partition && c.relkind != "f") {
      continue;  // a partition: carried (or refused) with its table
    } else if (c.relkind == "c") {
      AddFound(plan, "composite type", absl::StrCat("type ", c.table));
    } else if (!c.of_type || c.relkind == "f") {
      PlanObject& o = AddFound(plan, ContainerKind(c), name);  // verify looks inside
      o.set_table(c.table);
      o.set_column(c.column);
      o.set_printed_column(c.printed_column);
      o.set_oid(c.oid);
      c.owner.SetOn(o);
    } else if (c.inherited) {
      AddFound(plan, "inherited table", name);
    } else if (c.partition_key) {
      AddFound(plan, "partition key", name);
    } else if (c.generated == "s") {
      AddFound(plan, "generated column", name);
    } else {
      AddColumn(tx, c, plan);
    }
  }
}

namespace {

void ReadIndexChildren(Tx& tx, uint32_t index_oid, PlanObject& o) {
  for (const pqxx::row& c : tx.Params(
           R"(SELECT i.indrelid::regclass::text AS table_name, ic.relname::text AS index_name
              FROM pg_partition_tree($1) t JOIN pg_index i ON i.indexrelid = t.relid
              JOIN pg_class ic ON ic.oid = i.indexrelid
              WHERE t.isleaf ORDER BY 1)",
           index_oid)) {
    o.add_children(absl::StrCat(c["table_name"].c_str(), "|", c["index_name"].c_str()));
  }
}

// ReadIndexes' query: every index that depends on the type ($1).
std::string IndexesSql() {
  return absl::StrCat(
      R"(SELECT i.indexrelid AS index_oid, ic.relname::text AS raw_name,
                i.indrelid::regclass::text AS table_name, i.indexrelid::regclass::text AS index_name,
                pg_get_indexdef(i.indexrelid) AS definition, i.indisunique AS is_unique,
                i.indisvalid AS is_valid, COALESCE(k.contype::text, '') AS constraint_type,
                i.indisreplident AS replica_identity, ic.relkind::text AS relkind,
                EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
                  AS partition_share,
                i.indisclustered AS is_clustered,
                obj_description(i.indexrelid, 'pg_class') AS comment,
                i.indisunique AND EXISTS (
                  SELECT 1 FROM pg_attribute a
                  WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])
                    AND a.atttypid = $1) AS unique_on_type,
                i.indexprs::text AS exprs_tree, i.indpred::text AS pred_tree, )",
      OwnerFactsSql("i.indrelid"), R"(
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
         LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x')
         WHERE )",
      DependsOnTypeSql("'pg_class'::regclass", "i.indexrelid", "$1"), " ORDER BY 3, 2");
}

// A row of IndexesSql.
struct IndexFact {
  uint32_t oid = 0;
  std::string raw_name;
  std::string table;
  std::string name;  // as regclass prints it
  std::string definition;
  bool unique = false;
  bool valid = false;
  std::string constraint_type;  // "" when it backs no constraint
  bool replica_identity = false;
  std::string relkind;
  bool partition_share = false;  // a partition's share of a partitioned index
  bool clustered = false;
  std::optional<std::string> comment;
  bool unique_on_type = false;
  std::optional<std::string> exprs_tree;
  std::optional<std::string> pred_tree;
  OwnerFacts owner;  // the table's

  static IndexFact FromRow(const pqxx::row& row) {
    const auto text = [&](const char* column) -> std::optional<std::string> {
      if (row[column].is_null()) return std::nullopt;
      return row[column].as<std::string>();
    };
    IndexFact i;
    i.oid = row["index_oid"].as<uint32_t>();
    i.raw_name = row["raw_name"].as<std::string>();
    i.table = row["table_name"].as<std::string>();
    i.name = row["index_name"].as<std::string>();
    i.definition = row["definition"].as<std::string>();
    i.unique = row["is_unique"].as<bool>();
    i.valid = row["is_valid"].as<bool>();
    i.constraint_type = row["constraint_type"].as<std::string>();
    i.replica_identity = row["replica_identity"].as<bool>();
    i.relkind = row["relkind"].as<std::string>();
    i.partition_share = row["partition_share"].as<bool>();
    i.clustered = row["is_clustered"].as<bool>();
    i.comment = text("comment");
    i.unique_on_type = row["unique_on_type"].as<bool>();
    i.exprs_tree = text("exprs_tree");
    i.pred_tree = text("pred_tree");
    i.owner = OwnerFacts::FromRow(row);
    return i;
  }
};

void AddIndex(Tx& tx, const IndexFact& i, StatusPlan& plan) {
  PlanObject& o = *plan.add_objects();
  o.set_kind("index");
  o.set_raw_name(i.raw_name);
  o.set_table(i.table);
  o.set_name(i.name);
  o.set_definition(i.definition);
  o.set_unique(i.unique);
  o.set_partitioned(i.relkind == "I");
  o.set_oid(i.oid);
  for (const auto& [tree, use] : {std::pair{&i.exprs_tree, "value"}, {&i.pred_tree, "condition"}}) {
    if (!tree->has_value()) continue;
    auto& e = *o.add_exprs();
    e.set_use(use);
    e.set_tree(**tree);
  }
  i.owner.SetOn(o);
  if (o.partitioned()) ReadIndexChildren(tx, i.oid, o);
  if (i.comment) {
    o.add_restore(absl::StrCat("COMMENT ON INDEX ", o.name(), " IS ", tx.Quote(*i.comment)));
  }
  if (i.clustered) {
    o.add_restore(absl::StrCat("ALTER TABLE ", o.table(), " CLUSTER ON ", tx.Name(o.raw_name())));
  }
}

}  // namespace

void ReadIndexes(Tx& tx, const StoreInfo& store, StatusPlan& plan) {
  for (const pqxx::row& row : tx.Params(IndexesSql(), store.type_oid)) {
    const IndexFact i = IndexFact::FromRow(row);
    if (i.partition_share) continue;
    if (absl::EndsWith(i.raw_name, "__wide") || absl::EndsWith(i.raw_name, "__next")) {
      AddFound(plan, "migrator's name", i.name, "an index");  // ours, or refused at phase none
    } else if (!i.constraint_type.empty()) {
      AddFound(plan, "constraint index", i.name);
    } else if (i.unique_on_type) {
      AddFound(plan, "unique index on status", i.name);
    } else if (i.replica_identity) {
      AddFound(plan, "replica identity", i.name);
    } else if (!i.valid) {
      AddFound(plan, "invalid index", i.name);
    } else {
      AddIndex(tx, i, plan);
    }
  }
}

}  // namespace booking::migrator
