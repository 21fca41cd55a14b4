// Views over columns of the type (or naming it), views over those views, and
// what a DROP VIEW would take with it.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "migrator/status_enum/db.h"
#include "migrator/status_enum/inventory.h"
#include "migrator/status_enum/inventory_sql.h"

namespace booking::migrator {
namespace {

// Owner, privileges (table and column level), comments and column defaults:
// everything CREATE VIEW does not bring back by itself.
void ReadViewExtras(Tx& tx, uint32_t oid, PlanObject& o) {
  pqxx::result r = tx.Params(
      absl::StrCat(
          R"(SELECT format('ALTER VIEW %s OWNER TO %I', c.oid::regclass, pg_get_userbyid(c.relowner))
                      AS statement
             FROM pg_class c WHERE c.oid = $1
             UNION ALL
             SELECT format('GRANT %s ON %s TO %s%s', x.privilege_type, c.oid::regclass, )",
          kGranteeSql, R"(, CASE WHEN x.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
             FROM pg_class c, aclexplode(c.relacl) x WHERE c.oid = $1 AND x.grantee <> c.relowner
             UNION ALL
             SELECT format('GRANT %s (%I) ON %s TO %s', x.privilege_type, a.attname,
                           a.attrelid::regclass, )",
          kGranteeSql, R"()
             FROM pg_attribute a, aclexplode(a.attacl) x WHERE a.attrelid = $1 AND a.attnum > 0
             UNION ALL
             SELECT format('COMMENT ON VIEW %s IS %L', $1::regclass, obj_description($1, 'pg_class'))
             WHERE obj_description($1, 'pg_class') IS NOT NULL
             UNION ALL
             SELECT format('COMMENT ON COLUMN %s.%I IS %L', a.attrelid::regclass, a.attname,
                           col_description(a.attrelid, a.attnum))
             FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0
               AND col_description(a.attrelid, a.attnum) IS NOT NULL
             UNION ALL
             SELECT format('ALTER VIEW %s ALTER COLUMN %I SET DEFAULT %s', a.attrelid::regclass,
                           a.attname, pg_get_expr(d.adbin, d.adrelid))
             FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
             WHERE d.adrelid = $1)"),
      oid);
  for (const pqxx::row& row : r) o.add_restore(row["statement"].as<std::string>());
}

// What depends on the view besides views over it: DROP VIEW would fail on
// (or silently take) these.
void ReadViewBlockers(Tx& tx, uint32_t oid, const std::string& name, StatusPlan& plan) {
  pqxx::result r = tx.Params(
      R"(SELECT pg_describe_object(d.classid, d.objid, d.objsubid) AS dependent
         FROM pg_depend d
         WHERE d.deptype IN ('n', 'a')
           AND ((d.refclassid = 'pg_class'::regclass AND d.refobjid = $1)
             OR (d.refclassid = 'pg_type'::regclass
                 AND d.refobjid = (SELECT reltype FROM pg_class WHERE oid = $1)))
           AND NOT (d.classid = 'pg_rewrite'::regclass AND EXISTS (
                 SELECT 1 FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
                 WHERE r.oid = d.objid AND r.ev_type = '1' AND c.relkind IN ('v', 'm')))
         ORDER BY 1)",
      oid);
  for (const pqxx::row& row : r) {
    AddFound(plan, "view dependent", row["dependent"].as<std::string>(),
             absl::StrCat("view ", name));
  }
}

// ReadViews' query: the views over columns of the type or a type holding it
// ($2), or naming the type ($1), and the views over those, shallowest first.
std::string ViewsSql() {
  return absl::StrCat(
      R"(WITH RECURSIVE direct AS (
               SELECT DISTINCT r.ev_class AS view FROM pg_rewrite r
               WHERE r.ev_type = '1' AND ()",
      DependsOnTypeSql("'pg_rewrite'::regclass", "r.oid", "$1"), R"(
                 OR EXISTS (
                   SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_rewrite'::regclass
                     AND d.objid = r.oid AND d.deptype = 'n'
                     AND ((d.refclassid = 'pg_type'::regclass AND d.refobjid = ANY ($2::oid[]))
                       OR (d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.ev_class
                           AND d.refobjsubid = 0 AND (SELECT reltype FROM pg_class
                                                      WHERE oid = d.refobjid) = ANY ($2::oid[]))
                       OR (d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0
                           AND (SELECT atttypid FROM pg_attribute WHERE attrelid = d.refobjid
                                  AND attnum = d.refobjsubid) = ANY ($2::oid[])))))
             ), tree(view, depth) AS (
               SELECT view, 0 FROM direct
               UNION
               SELECT r.ev_class, tree.depth + 1
               FROM tree JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass
                 AND d.refobjid = tree.view AND d.classid = 'pg_rewrite'::regclass
               JOIN pg_rewrite r ON r.oid = d.objid AND r.ev_type = '1'
               WHERE r.ev_class <> tree.view AND tree.depth < 30
             )
             SELECT c.oid AS view_oid, c.oid::regclass::text AS view_name,
                    c.relkind::text AS relkind, pg_get_viewdef(c.oid) AS definition,
                    COALESCE(array_to_string(c.reloptions, ', '), '') AS options,
                    max(t.depth) AS depth,
                    (SELECT r.ev_action::text FROM pg_rewrite r
                     WHERE r.ev_class = c.oid AND r.rulename = '_RETURN') AS query_tree,
                    has_schema_privilege(c.relowner, c.relnamespace, 'CREATE')
                      AS owner_may_create, )",
      OwnerFactsSql("c.oid"), R"(
             FROM tree t JOIN pg_class c ON c.oid = t.view
             GROUP BY c.oid ORDER BY max(t.depth), 2)");
}

}  // namespace

void ReadViews(Tx& tx, const StoreInfo& store, StatusPlan& plan) {
  pqxx::result r = tx.Params(ViewsSql(), store.type_oid, TaintedTypesLiteral(plan));
  for (const pqxx::row& row : r) {
    const uint32_t oid = row["view_oid"].as<uint32_t>();
    const std::string name = row["view_name"].as<std::string>();
    if (row["relkind"].as<std::string>() == "m") {
      AddFound(plan, "materialized view", name);
      continue;
    }
    PlanObject& o = *plan.add_objects();
    o.set_kind("view");
    o.set_name(name);
    o.set_oid(oid);
    if (!row["query_tree"].is_null()) {
      auto& e = *o.add_exprs();
      e.set_use("queries");
      e.set_tree(row["query_tree"].as<std::string>());
    }
    o.set_owner_may_create(row["owner_may_create"].as<bool>());
    OwnerFacts::FromRow(row).SetOn(o);
    o.set_definition(row["definition"].as<std::string>());
    o.set_options(row["options"].as<std::string>());
    o.set_depth(row["depth"].as<int>());
    ReadViewExtras(tx, oid, o);
    ReadViewBlockers(tx, oid, name, plan);
  }
}

}  // namespace booking::migrator
