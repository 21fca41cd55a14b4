#include "migrator/status_enum/objects_sql.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace booking::migrator {

std::string CreatePolicySql(Tx& tx, const PlanObject& o, const std::string& qual,
                            const std::string& check) {
  const std::string& c = o.policy_command();
  const std::string command = c == "r"   ? "SELECT"
                              : c == "a" ? "INSERT"
                              : c == "w" ? "UPDATE"
                              : c == "d" ? "DELETE"
                                         : "ALL";
  std::string sql =
      absl::StrCat("CREATE POLICY ", tx.Name(o.raw_name()), " ON ", o.table(), " AS ",
                   o.policy_permissive() ? "PERMISSIVE" : "RESTRICTIVE", " FOR ", command, " TO ",
                   o.policy_roles_size() > 0 ? o.policy_roles(0) : "PUBLIC");
  if (!qual.empty()) absl::StrAppend(&sql, " USING (", qual, ")");
  if (!check.empty()) absl::StrAppend(&sql, " WITH CHECK (", check, ")");
  return sql;
}

std::string OrReplace(const std::string& create_statement) {
  absl::string_view rest(create_statement);
  if (absl::ConsumePrefix(&rest, "CREATE ")) return absl::StrCat("CREATE OR REPLACE ", rest);
  return create_statement;
}

std::string FiringStateSql(Tx& tx, const std::string& what, const PlanObject& o) {
  const std::string& e = o.enabled();
  const std::string verb = e == "D"   ? "DISABLE"
                           : e == "R" ? "ENABLE REPLICA"
                           : e == "A" ? "ENABLE ALWAYS"
                                      : "";
  if (verb.empty()) return "";
  return absl::StrCat("ALTER TABLE ", o.table(), " ", verb, " ", what, " ", tx.Name(o.raw_name()));
}

std::string CheckBody(const std::string& definition) {
  absl::string_view body(definition);
  absl::ConsumeSuffix(&body, " NOT VALID");
  return std::string(body);
}

std::string ViewSql(const PlanObject& o, const std::string& query, bool replace) {
  return absl::StrCat(replace ? "CREATE OR REPLACE VIEW " : "CREATE VIEW ", o.name(),
                      o.options().empty() ? "" : absl::StrCat(" WITH (", o.options(), ")"), " AS ",
                      query);
}

}  // namespace booking::migrator
