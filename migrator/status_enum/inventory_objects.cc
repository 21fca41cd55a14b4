// Triggers, policies, rules and constraints on the tables, and whatever else
// depends on the type.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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
      absl::StrCat(R"(SELECT t.oid, t.tgname::text, t.tgrelid::regclass::text,
                             pg_get_triggerdef(t.oid), t.tgenabled::text,
                             obj_description(t.oid, 'pg_trigger'), quote_ident(t.tgname),
                             t.tgconstraint <> 0, t.tgqual::text,
                             encode(t.tgargs, 'hex'), )",
                   OwnerFactsSql("t.tgrelid"), R"(
                      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                      WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND c.relkind IN ('r', 'p')
                        AND )",
                   DependsOnTypeSql("'pg_trigger'::regclass", "t.oid", "$1"), " ORDER BY 3, 2"),
      store.type_oid);
  for (const pqxx::row& row : r) {
    const std::string raw = row[1].as<std::string>();
    const std::string name = absl::StrCat(row[6].c_str(), " on ", row[2].c_str());
    if (raw == kCaptureFunction || absl::EndsWith(raw, "__next_sync")) {
      AddFound(plan, "migrator's name", name, "a trigger");  // ours, or refused at phase none
      continue;
    }
    if (row[7].as<bool>()) {
      AddFound(plan, "constraint trigger", name);
      continue;
    }
    PlanObject& o = *plan.add_objects();
    o.set_kind("trigger");
    o.set_raw_name(raw);
    o.set_table(row[2].as<std::string>());
    o.set_name(name);
    o.set_definition(row[3].as<std::string>());
    o.set_enabled(row[4].as<std::string>());
    if (!row[8].is_null()) {
      auto& e = *o.add_exprs();
      e.set_use("condition");
      e.set_tree(row[8].as<std::string>());
    }
    for (const std::string& arg : TriggerArgs(row[9].as<std::string>())) o.add_trigger_args(arg);
    SetOwnerFacts(row, 10, o);
    AddComment(tx, row[5], absl::StrCat("TRIGGER ", row[6].c_str(), " ON ", o.table()), o);
  }
}

void ReadPolicies(Tx& tx, const StoreInfo& store, StatusPlan& plan) {
  pqxx::result r =
      tx.Params(absl::StrCat(
                    R"(SELECT p.polname::text, quote_ident(p.polname), p.polrelid::regclass::text,
                    p.polcmd::text, p.polpermissive,
                    (SELECT string_agg(CASE WHEN x = 0 THEN 'PUBLIC'
                                            ELSE quote_ident(pg_get_userbyid(x)) END, ', ')
                     FROM unnest(p.polroles) AS x),
                    COALESCE(pg_get_expr(p.polqual, p.polrelid), ''),
                    COALESCE(pg_get_expr(p.polwithcheck, p.polrelid), ''),
                    obj_description(p.oid, 'pg_policy'), p.polqual::text, p.polwithcheck::text,
                    )",
                    OwnerFactsSql("p.polrelid"), R"(
             FROM pg_policy p WHERE )",
                    DependsOnTypeSql("'pg_policy'::regclass", "p.oid", "$1"), " ORDER BY 3, 1"),
                store.type_oid);
  for (const pqxx::row& row : r) {
    PlanObject& o = *plan.add_objects();
    o.set_kind("policy");
    o.set_raw_name(row[0].as<std::string>());
    o.set_table(row[2].as<std::string>());
    o.set_name(absl::StrCat(row[1].c_str(), " on ", o.table()));
    o.set_policy_command(row[3].as<std::string>());
    o.set_policy_permissive(row[4].as<bool>());
    o.add_policy_roles(row[5].is_null() ? "PUBLIC" : row[5].as<std::string>());
    o.set_definition(row[6].as<std::string>());
    o.set_policy_check(row[7].as<std::string>());
    for (int col : {9, 10}) {
      if (row[col].is_null()) continue;
      auto& e = *o.add_exprs();
      e.set_use("condition");
      e.set_tree(row[col].as<std::string>());
    }
    SetOwnerFacts(row, 11, o);
    AddComment(tx, row[8], absl::StrCat("POLICY ", row[1].c_str(), " ON ", o.table()), o);
  }
}

void ReadRules(Tx& tx, const StoreInfo& store, StatusPlan& plan) {
  pqxx::result r = tx.Params(
      absl::StrCat(R"(SELECT r.rulename::text, quote_ident(r.rulename), r.ev_class::regclass::text,
                             pg_get_ruledef(r.oid), r.ev_enabled::text,
                             obj_description(r.oid, 'pg_rewrite'), r.ev_qual::text,
                             r.ev_action::text, )",
                   OwnerFactsSql("r.ev_class"), R"(
                      FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
                      WHERE r.ev_type <> '1' AND c.relkind IN ('r', 'p') AND )",
                   DependsOnTypeSql("'pg_rewrite'::regclass", "r.oid", "$1"), " ORDER BY 3, 1"),
      store.type_oid);
  for (const pqxx::row& row : r) {
    PlanObject& o = *plan.add_objects();
    o.set_kind("rule");
    o.set_raw_name(row[0].as<std::string>());
    o.set_table(row[2].as<std::string>());
    o.set_name(absl::StrCat(row[1].c_str(), " on ", o.table()));
    std::string def = row[3].as<std::string>();
    if (!def.empty() && def.back() == ';') def.pop_back();
    o.set_definition(def);
    o.set_enabled(row[4].as<std::string>());
    for (const auto& [col, use] : {std::pair<int, const char*>{6, "condition"}, {7, "queries"}}) {
      if (row[col].is_null() || row[col].as<std::string>() == "<>") continue;
      auto& e = *o.add_exprs();
      e.set_use(use);
      e.set_tree(row[col].as<std::string>());
    }
    SetOwnerFacts(row, 8, o);
    AddComment(tx, row[5], absl::StrCat("RULE ", row[1].c_str(), " ON ", o.table()), o);
  }
}

void ReadConstraints(Tx& tx, const StoreInfo& store, StatusPlan& plan) {
  pqxx::result r = tx.Params(
      absl::StrCat(R"(SELECT k.conname::text, quote_ident(k.conname), k.conrelid::regclass::text,
                             k.contype::text, pg_get_constraintdef(k.oid), k.conislocal,
                             k.contypid <> 0, obj_description(k.oid, 'pg_constraint'),
                             k.convalidated, k.conbin::text, )",
                   OwnerFactsSql("k.conrelid"), R"(
                      FROM pg_constraint k WHERE )",
                   DependsOnTypeSql("'pg_constraint'::regclass", "k.oid", "$1"), " ORDER BY 3, 1"),
      store.type_oid);
  for (const pqxx::row& row : r) {
    if (row[6].as<bool>()) continue;  // a domain's: the domain is refused
    const std::string type = row[3].as<std::string>();
    const std::string name = absl::StrCat(row[1].c_str(), " on ", row[2].c_str());
    if (type != "c") {
      AddFound(plan, type == "f" ? "foreign key" : "constraint", name);
      continue;
    }
    if (!row[5].as<bool>()) continue;  // inherited from a partitioned table's check
    if (absl::EndsWith(row[0].as<std::string>(), "__wide") ||
        absl::EndsWith(row[0].as<std::string>(), "__next")) {
      AddFound(plan, "migrator's name", name, "a check");  // ours, or refused at phase none
      continue;
    }
    PlanObject& o = *plan.add_objects();
    o.set_kind("check");
    o.set_raw_name(row[0].as<std::string>());
    o.set_table(row[2].as<std::string>());
    o.set_name(name);
    o.set_definition(row[4].as<std::string>());
    o.set_enabled(row[8].as<bool>() ? "valid" : "not valid");
    if (!row[9].is_null()) {
      auto& e = *o.add_exprs();
      e.set_use("condition");
      e.set_tree(row[9].as<std::string>());
    }
    SetOwnerFacts(row, 10, o);
    AddComment(tx, row[7], absl::StrCat("CONSTRAINT ", row[1].c_str(), " ON ", o.table()), o);
  }
}

// A dependent of the type (or of a type holding it) no other reader
// handles: its kind, judged by JudgePlan (a column's own default is
// carried with the column).
void ClassifyOther(const pqxx::row& row, StatusPlan& plan) {
  const std::string cls = row[0].as<std::string>();
  const std::string what = row[1].as<std::string>();
  if (cls == "pg_attrdef") {
    if (row[2].as<std::string>() == "s") {
      AddFound(plan, "generated column", what);
    } else if (!row[3].as<bool>()) {
      AddFound(plan, "default", what);
    }
  } else if (cls == "pg_proc") {
    AddFound(plan, row[5].as<bool>() ? "function on row type" : "function", what);
  } else if (cls == "pg_type") {
    AddFound(plan, row[4].as<std::string>() == "d" ? "domain" : "type", what);
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
      R"(SELECT DISTINCT d.classid::regclass::text,
                COALESCE((SELECT format('%s.%I', ad.adrelid::regclass, a.attname) FROM pg_attrdef ad
                          JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
                          WHERE d.classid = 'pg_attrdef'::regclass AND ad.oid = d.objid),
                         pg_describe_object(d.classid, d.objid, d.objsubid)),
                COALESCE((SELECT a.attgenerated::text FROM pg_attrdef ad
                          JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
                          WHERE d.classid = 'pg_attrdef'::regclass AND ad.oid = d.objid), ''),
                COALESCE((SELECT a.atttypid = $1 FROM pg_attrdef ad
                          JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
                          WHERE d.classid = 'pg_attrdef'::regclass AND ad.oid = d.objid), false),
                COALESCE((SELECT t.typtype::text FROM pg_type t
                          WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid), ''),
                bool_and(d.refclassid = 'pg_type'::regclass
                         AND d.refobjid NOT IN ($1, (SELECT typarray FROM pg_type WHERE oid = $1))
                         AND EXISTS (SELECT 1 FROM pg_type t WHERE t.oid = d.refobjid
                                       AND (t.typtype = 'c' OR EXISTS (
                                         SELECT 1 FROM pg_type e WHERE e.oid = t.typelem
                                           AND e.typtype = 'c'))))
                  OVER (PARTITION BY d.classid, d.objid)
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
