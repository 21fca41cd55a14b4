// Functions: bodies naming old labels (text, or a SQL-standard body), and
// the procedural functions that may hold plans cached on the type.
#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "migrator/status_enum/body_scan.h"
#include "migrator/status_enum/db.h"
#include "migrator/status_enum/inventory.h"

namespace booking::migrator {
namespace {

// Names whose mention in a procedural body means it reads values of the
// type: the type's and those of relations with a column holding it.
std::vector<std::string> TaintedNames(Tx& tx, const StoreInfo& store, const StatusPlan& plan) {
  std::vector<std::string> names = {store.type_name};
  for (const pqxx::row& r : tx.Params(
           R"(SELECT DISTINCT c.relname::text AS rel_name
              FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
              WHERE a.atttypid = ANY ($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
                AND c.relkind IN ('r', 'p', 'v', 'm', 'f'))",
           TaintedTypesLiteral(plan))) {
    names.push_back(r["rel_name"].as<std::string>());
  }
  return names;
}

// `source` mentions `name` as an identifier: quoted, or (for names an
// unquoted identifier reaches) as a word in any case.
bool Mentions(absl::string_view source, const std::string& name) {
  if (absl::StrContains(source, absl::StrCat("\"", name, "\""))) return true;
  const bool lower = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
  if (!lower) return false;
  const std::string lowered = absl::AsciiStrToLower(source);
  for (size_t at = lowered.find(name); at != std::string::npos; at = lowered.find(name, at + 1)) {
    const auto word = [](char c) { return absl::ascii_isalnum(c) || c == '_'; };
    const size_t after = at + name.size();
    if ((at == 0 || !word(source[at - 1])) && (after >= source.size() || !word(source[after]))) {
      return true;
    }
  }
  return false;
}

// A row of ReadFunctions' query.
void AddFunction(const pqxx::row& row, const std::vector<std::string>& tainted, StatusPlan& plan) {
  const std::string name = absl::StrCat("function ", row["signature"].c_str());
  const std::string language = row["language"].as<std::string>();
  const std::string source = row["source"].is_null() ? "" : row["source"].as<std::string>();
  const std::vector<std::string> text = OldLabelTextIn(source);
  if (!text.empty()) {
    AddFound(plan, "function body", name, absl::StrCat("it names ", absl::StrJoin(text, ", ")));
  }
  if (!row["sql_body"].is_null()) {
    PlanObject& o = AddFound(plan, "sql function", name);
    auto& e = *o.add_exprs();
    e.set_use("body");
    e.set_tree(row["sql_body"].as<std::string>());
  }
  if (language == "sql") return;
  const bool reads = row["on_tainted_table"].as<bool>() ||
                     std::any_of(tainted.begin(), tainted.end(),
                                 [&](const std::string& n) { return Mentions(source, n); });
  if (!reads) return;
  // PL/pgSQL (and other procedural languages) cache plans per session,
  // holding the type's oid; the swap must make every session recompile.
  PlanObject& o = AddFound(plan, "plpgsql function", name);
  o.set_recompile(
      absl::StrCat("ALTER FUNCTION ", row["signature"].c_str(), " COST ", row["cost"].c_str()));
  o.set_owner(row["owner"].as<std::string>());
  o.set_can_alter(row["can_alter"].as<bool>());
  o.set_schema(row["schema_name"].as<std::string>());
  o.set_schema_usage(row["schema_usage"].as<bool>());
  o.set_schema_create(true);
}

}  // namespace

void ReadFunctions(Tx& tx, const StoreInfo& store, StatusPlan& plan) {
  const std::vector<std::string> tainted = TaintedNames(tx, store, plan);
  pqxx::result r = tx.Params(
      R"(SELECT p.oid::regprocedure::text AS signature, l.lanname::text AS language,
                CASE WHEN p.prosqlbody IS NULL THEN p.prosrc END AS source,
                p.prosqlbody::text AS sql_body, p.procost AS cost,
                EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_attribute a ON a.attrelid = t.tgrelid
                        WHERE t.tgfoid = p.oid AND a.atttypid = ANY ($2::oid[]) AND a.attnum > 0
                          AND NOT a.attisdropped) AS on_tainted_table,
                pg_get_userbyid(p.proowner) AS owner, pg_has_role(p.proowner, 'USAGE') AS can_alter,
                n.nspname::text AS schema_name, has_schema_privilege(n.oid, 'USAGE') AS schema_usage,
                p.oid AS function_oid
         FROM pg_proc p
         JOIN pg_namespace n ON n.oid = p.pronamespace
         JOIN pg_language l ON l.oid = p.prolang
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_'
           AND l.lanname NOT IN ('internal', 'c')
           AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_proc'::regclass
                           AND e.objid = p.oid AND e.deptype = 'e')
           AND p.proname <> $1 AND p.proname NOT LIKE '%\_\_next\_sync'
         ORDER BY 1)",
      std::string(kCaptureFunction), TaintedTypesLiteral(plan));
  for (const pqxx::row& row : r) AddFunction(row, tainted, plan);
}

}  // namespace booking::migrator
