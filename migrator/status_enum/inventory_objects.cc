// Triggers, policies, rules and constraints on the tables, and whatever else
// depends on the type.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "migrator/status_enum/db.h"
#include "migrator/status_enum/inventory.h"
#include "migrator/status_enum/inventory_sql.h"

namespace booking::migrator {
namespace {

void AddComment(Tx& tx, const pqxx::field& comment, const std::string& target, PlanObject& o) {
  if (comment.is_null()) return;
  o.add_restore(absl::StrCat("COMMENT ON ", target, " IS ", tx.Quote(comment.as<std::string>())));
}

// pg_trigger.tgargs as hex: the arguments, each ended by a NUL byte.
std::vector<std::string> TriggerArgs(const std::string& hex) {
  std::vector<std::string> args(1);
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    const char c = static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    if (c == '\0') {
      args.emplace_back();
    } else {
      args.back().push_back(c);
    }
  }
  args.pop_back();  // after the last NUL
  return args;
}

void ReadTriggers(Tx& tx, const StoreInfo& store, StatusPlan& plan) {
  pqxx::result r = tx.Params(
      absl::StrCat(R"(SELECT t.oid AS trigger_oid, t.tgname::text AS raw_name,
                             t.tgrelid::regclass::text AS table_name,
                             pg_get_triggerdef(t.oid) AS definition, t.tgenabled::text AS enabled,
                             obj_description(t.oid, 'pg_trigger') AS comment,
                             quote_ident(t.tgname) AS printed_name,
                             t.tgconstraint <> 0 AS is_constraint, t.tgqual::text AS qual_tree,
                             encode(t.tgargs, 'hex') AS args_hex, )",
                   OwnerFactsSql("t.tgrelid"), R"(
                      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                      WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND c.relkind IN ('r', 'p')
                        AND )",
                   DependsOnTypeSql("'pg_trigger'::regclass", "t.oid", "$1"), " ORDER BY 3, 2"),
      store.type_oid);
  for (const pqxx::row& row : r) {
    const std::string raw = row["raw_name"].as<std::string>();
    const std::string name =
        absl::StrCat(row["printed_name"].c_str(), " on ", row["table_name"].c_str());
    if (raw == kCaptureFunction || absl::EndsWith(raw, "__next_sync")) {
      AddFound(plan, "migrator's name", name, "a trigger");  // ours, or refused at phase none
      continue;
    }
    if (row["is_constraint"].as<bool>()) {
      AddFound(plan, "constraint trigger", name);
      continue;
    }
    PlanObject& o = *plan.add_objects();
    o.set_kind("trigger");
    o.set_raw_name(raw);
    o.set_table(row["table_name"].as<std::string>());
    o.set_name(name);
    o.set_definition(row["definition"].as<std::string>());
    o.set_enabled(row["enabled"].as<std::string>());
    if (!row["qual_tree"].is_null()) {
      auto& e = *o.add_exprs();
      e.set_use("condition");
      e.set_tree(row["qual_tree"].as<std::string>());
    }
    for (const std::string& arg : TriggerArgs(row["args_hex"].as<std::string>())) {
      o.add_trigger_args(arg);
    }
    OwnerFacts::FromRow(row).SetOn(o);
    AddComment(tx, row["comment"],
               absl::StrCat("TRIGGER ", row["printed_name"].c_str(), " ON ", o.table()), o);
  }
}

void ReadPolicies(Tx& tx, const StoreInfo& store, StatusPlan& plan) {
  pqxx::result r =
      tx.Params(absl::StrCat(
                    R"(SELECT p.polname::text AS raw_name, quote_ident(p.polname) AS printed_name,
                    p.polrelid::regclass::text AS table_name, p.polcmd::text AS command,
                    p.polpermissive AS permissive,
                    (SELECT string_agg(CASE WHEN x = 0 THEN 'PUBLIC'
                                            ELSE quote_ident(pg_get_userbyid(x)) END, ', ')
                     FROM unnest(p.polroles) AS x) AS roles,
                    COALESCE(pg_get_expr(p.polqual, p.polrelid), '') AS using_expr,
                    COALESCE(pg_get_expr(p.polwithcheck, p.polrelid), '') AS check_expr,
                    obj_description(p.oid, 'pg_policy') AS comment, p.polqual::text AS qual_tree,
                    p.polwithcheck::text AS check_tree,
                    )",
                    OwnerFactsSql("p.polrelid"), R"(
             FROM pg_policy p WHERE )",
                    DependsOnTypeSql("'pg_policy'::regclass", "p.oid", "$1"), " ORDER BY 3, 1"),
                store.type_oid);
  for (const pqxx::row& row : r) {
    PlanObject& o = *plan.add_objects();
    o.set_kind("policy");
    o.set_raw_name(row["raw_name"].as<std::string>());
    o.set_table(row["table_name"].as<std::string>());
    o.set_name(absl::StrCat(row["printed_name"].c_str(), " on ", o.table()));
    o.set_policy_command(row["command"].as<std::string>());
    o.set_policy_permissive(row["permissive"].as<bool>());
    o.add_policy_roles(row["roles"].is_null() ? "PUBLIC" : row["roles"].as<std::string>());
    o.set_definition(row["using_expr"].as<std::string>());
    o.set_policy_check(row["check_expr"].as<std::string>());
    for (const char* column : {"qual_tree", "check_tree"}) {
      if (row[column].is_null()) continue;
      auto& e = *o.add_exprs();
      e.set_use("condition");
      e.set_tree(row[column].as<std::string>());
    }
    OwnerFacts::FromRow(row).SetOn(o);
    AddComment(tx, row["comment"],
               absl::StrCat("POLICY ", row["printed_name"].c_str(), " ON ", o.table()), o);
  }
}

void ReadRules(Tx& tx, const StoreInfo& store, StatusPlan& plan) {
  pqxx::result r = tx.Params(
      absl::StrCat(R"(SELECT r.rulename::text AS raw_name, quote_ident(r.rulename) AS printed_name,
                             r.ev_class::regclass::text AS table_name,
                             pg_get_ruledef(r.oid) AS definition, r.ev_enabled::text AS enabled,
                             obj_description(r.oid, 'pg_rewrite') AS comment,
                             r.ev_qual::text AS qual_tree, r.ev_action::text AS action_tree, )",
                   OwnerFactsSql("r.ev_class"), R"(
                      FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
                      WHERE r.ev_type <> '1' AND c.relkind IN ('r', 'p') AND )",
                   DependsOnTypeSql("'pg_rewrite'::regclass", "r.oid", "$1"), " ORDER BY 3, 1"),
      store.type_oid);
  for (const pqxx::row& row : r) {
    PlanObject& o = *plan.add_objects();
    o.set_kind("rule");
    o.set_raw_name(row["raw_name"].as<std::string>());
    o.set_table(row["table_name"].as<std::string>());
    o.set_name(absl::StrCat(row["printed_name"].c_str(), " on ", o.table()));
    std::string def = row["definition"].as<std::string>();
    if (!def.empty() && def.back() == ';') def.pop_back();
    o.set_definition(def);
    o.set_enabled(row["enabled"].as<std::string>());
    for (const auto& [column, use] : {std::pair<const char*, const char*>{"qual_tree", "condition"},
                                      {"action_tree", "queries"}}) {
      if (row[column].is_null() || row[column].as<std::string>() == "<>") continue;
      auto& e = *o.add_exprs();
      e.set_use(use);
      e.set_tree(row[column].as<std::string>());
    }
    OwnerFacts::FromRow(row).SetOn(o);
    AddComment(tx, row["comment"],
               absl::StrCat("RULE ", row["printed_name"].c_str(), " ON ", o.table()), o);
  }
}

void ReadConstraints(Tx& tx, const StoreInfo& store, StatusPlan& plan) {
  pqxx::result r = tx.Params(
      absl::StrCat(R"(SELECT k.conname::text AS raw_name, quote_ident(k.conname) AS printed_name,
                             k.conrelid::regclass::text AS table_name,
                             k.contype::text AS constraint_type,
                             pg_get_constraintdef(k.oid) AS definition, k.conislocal AS is_local,
                             k.contypid <> 0 AS of_domain,
                             obj_description(k.oid, 'pg_constraint') AS comment,
                             k.convalidated AS is_validated, k.conbin::text AS check_tree, )",
                   OwnerFactsSql("k.conrelid"), R"(
                      FROM pg_constraint k WHERE )",
                   DependsOnTypeSql("'pg_constraint'::regclass", "k.oid", "$1"), " ORDER BY 3, 1"),
      store.type_oid);
  for (const pqxx::row& row : r) {
    if (row["of_domain"].as<bool>()) continue;  // a domain's: the domain is refused
    const std::string type = row["constraint_type"].as<std::string>();
    const std::string raw = row["raw_name"].as<std::string>();
    const std::string name =
        absl::StrCat(row["printed_name"].c_str(), " on ", row["table_name"].c_str());
    if (type != "c") {
      AddFound(plan, type == "f" ? "foreign key" : "constraint", name);
      continue;
    }
    if (!row["is_local"].as<bool>()) continue;  // inherited from a partitioned table's check
    if (absl::EndsWith(raw, "__wide") || absl::EndsWith(raw, "__next")) {
      AddFound(plan, "migrator's name", name, "a check");  // ours, or refused at phase none
      continue;
    }
    PlanObject& o = *plan.add_objects();
    o.set_kind("check");
    o.set_raw_name(raw);
    o.set_table(row["table_name"].as<std::string>());
    o.set_name(name);
    o.set_definition(row["definition"].as<std::string>());
    o.set_enabled(row["is_validated"].as<bool>() ? "valid" : "not valid");
    if (!row["check_tree"].is_null()) {
      auto& e = *o.add_exprs();
      e.set_use("condition");
      e.set_tree(row["check_tree"].as<std::string>());
    }
    OwnerFacts::FromRow(row).SetOn(o);
    AddComment(tx, row["comment"],
               absl::StrCat("CONSTRAINT ", row["printed_name"].c_str(), " ON ", o.table()), o);
  }
}

// A dependent of the type (or of a type holding it) no other reader
// handles: its kind, judged by JudgePlan (a column's own default is
// carried with the column).
void ClassifyOther(const pqxx::row& row, StatusPlan& plan) {
  const std::string cls = row["catalog"].as<std::string>();
  const std::string what = row["object"].as<std::string>();
  if (cls == "pg_attrdef") {
    if (row["generated"].as<std::string>() == "s") {
      AddFound(plan, "generated column", what);
    } else if (!row["of_type"].as<bool>()) {
      AddFound(plan, "default", what);
    }
  } else if (cls == "pg_proc") {
    AddFound(plan, row["on_row_type"].as<bool>() ? "function on row type" : "function", what);
  } else if (cls == "pg_type") {
    AddFound(plan, row["type_kind"].as<std::string>() == "d" ? "domain" : "type", what);
  } else if (cls == "pg_statistic_ext") {
    AddFound(plan, "statistics", what);
  } else {
    AddFound(plan, "other", what, cls);
  }
}

}  // namespace

void ReadTableObjects(Tx& tx, const StoreInfo& store, StatusPlan& plan) {
  ReadTriggers(tx, store, plan);
  ReadPolicies(tx, store, plan);
  ReadRules(tx, store, plan);
  ReadConstraints(tx, store, plan);
}

void ReadOtherDependents(Tx& tx, const StoreInfo& store, StatusPlan& plan) {
  if (!tx.Params("SELECT 1 FROM pg_depend WHERE classid = 'pg_type'::regclass AND objid = $1 "
                 "AND deptype = 'e'",
                 store.type_oid)
           .empty()) {
    AddFound(plan, "extension", absl::StrCat("type ", store.type));
  }
  pqxx::result r = tx.Params(
      R"(SELECT DISTINCT d.classid::regclass::text AS catalog,
                COALESCE((SELECT format('%s.%I', ad.adrelid::regclass, a.attname) FROM pg_attrdef ad
                          JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
                          WHERE d.classid = 'pg_attrdef'::regclass AND ad.oid = d.objid),
                         pg_describe_object(d.classid, d.objid, d.objsubid)) AS object,
                COALESCE((SELECT a.attgenerated::text FROM pg_attrdef ad
                          JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
                          WHERE d.classid = 'pg_attrdef'::regclass AND ad.oid = d.objid), '')
                  AS generated,
                COALESCE((SELECT a.atttypid = $1 FROM pg_attrdef ad
                          JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
                          WHERE d.classid = 'pg_attrdef'::regclass AND ad.oid = d.objid), false)
                  AS of_type,
                COALESCE((SELECT t.typtype::text FROM pg_type t
                          WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid), '')
                  AS type_kind,
                bool_and(d.refclassid = 'pg_type'::regclass
                         AND d.refobjid NOT IN ($1, (SELECT typarray FROM pg_type WHERE oid = $1))
                         AND EXISTS (SELECT 1 FROM pg_type t WHERE t.oid = d.refobjid
                                       AND (t.typtype = 'c' OR EXISTS (
                                         SELECT 1 FROM pg_type e WHERE e.oid = t.typelem
                                           AND e.typtype = 'c'))))
                  OVER (PARTITION BY d.classid, d.objid) AS on_row_type
         FROM pg_depend d
         WHERE d.deptype IN ('n', 'a')
           AND d.classid NOT IN ('pg_rewrite'::regclass, 'pg_trigger'::regclass,
                                 'pg_policy'::regclass, 'pg_constraint'::regclass)
           AND NOT (d.classid = 'pg_class'::regclass AND (d.objsubid <> 0 OR EXISTS (
                      SELECT 1 FROM pg_class c WHERE c.oid = d.objid AND c.relkind IN ('i', 'I'))))
           AND ((d.refclassid = 'pg_type'::regclass AND d.refobjid = ANY ($2::oid[]))
             OR (d.refclassid = 'pg_class'::regclass AND EXISTS (
                   SELECT 1 FROM pg_attribute a WHERE a.attrelid = d.refobjid
                     AND a.attnum = d.refobjsubid AND a.atttypid = ANY ($2::oid[]))))
         ORDER BY 2)",
      store.type_oid, TaintedTypesLiteral(plan));
  for (const pqxx::row& row : r) ClassifyOther(row, plan);
}

}  // namespace booking::migrator
