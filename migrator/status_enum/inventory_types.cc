// The type's facts (its labels by oid, every type holding it), the
// migrator's role, and the names of the operators and functions stored
// expressions use.
#include <regex>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "migrator/status_enum/db.h"
#include "migrator/status_enum/inventory.h"

namespace booking::migrator {

void ReadTypeFacts(Tx& tx, const StoreInfo& store, StatusPlan& plan) {
  ::migrator::v1::TypeFacts& t = *plan.mutable_types();
  t.set_enum_oid(store.type_oid);
  t.set_type_name(store.type_name);
  t.set_type_schema(store.type_schema);
  t.set_array_oid(
      tx.Params("SELECT typarray AS array_oid FROM pg_type WHERE oid = $1", store.type_oid)
          .front()["array_oid"]
          .as<uint32_t>());
  for (const pqxx::row& r :
       tx.Params("SELECT oid AS label_oid, enumlabel::text AS label FROM pg_enum "
                 "WHERE enumtypid = $1",
                 store.type_oid)) {
    (*t.mutable_labels())[r["label_oid"].as<uint32_t>()] = r["label"].as<std::string>();
  }
  // Every type holding a value of the type, transitively: arrays, domains,
  // ranges and multiranges, composite types and the row types of tables and
  // views with a column of any of them.
  for (const pqxx::row& r : tx.Params(
           R"(WITH RECURSIVE edges(holder, held) AS (
                SELECT oid, typelem FROM pg_type
                WHERE typelem <> 0 AND typsubscript = 'array_subscript_handler'::regproc
                UNION ALL SELECT oid, typbasetype FROM pg_type WHERE typtype = 'd'
                UNION ALL SELECT rngtypid, rngsubtype FROM pg_range
                UNION ALL SELECT rngmultitypid, rngtypid FROM pg_range
                UNION ALL SELECT c.reltype, a.atttypid FROM pg_attribute a
                  JOIN pg_class c ON c.oid = a.attrelid
                  WHERE a.attnum > 0 AND NOT a.attisdropped AND c.reltype <> 0
              ), holds(oid) AS (
                SELECT $1::oid
                UNION SELECT e.holder FROM edges e JOIN holds h ON e.held = h.oid
              )
              SELECT oid AS type_oid, format_type(oid, NULL) AS type_name
              FROM holds WHERE oid NOT IN ($1, $2))",
           store.type_oid, t.array_oid())) {
    (*t.mutable_containers())[r["type_oid"].as<uint32_t>()] = r["type_name"].as<std::string>();
  }
}

void ReadRoleFacts(Tx& tx, const StoreInfo& store, StatusPlan& plan) {
  pqxx::row r = tx.Params(
                      R"(SELECT current_user::text AS role_name,
                (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
                pg_has_role(t.typowner, 'USAGE') AS owns_type,
                pg_get_userbyid(t.typowner) AS type_owner,
                has_schema_privilege(to_regnamespace($2), 'CREATE') AS create_in_store_schema,
                has_schema_privilege(t.typnamespace, 'CREATE') AS create_in_type_schema,
                has_schema_privilege(t.typowner, t.typnamespace, 'CREATE')
                  AS type_owner_may_create
         FROM pg_type t WHERE t.oid = $1)",
                      store.type_oid, tx.Name(store.schema))
                    .front();
  ::migrator::v1::RoleFacts& role = *plan.mutable_role();
  role.set_name(r["role_name"].as<std::string>());
  role.set_superuser(r["superuser"].as<bool>());
  role.set_owns_type(r["owns_type"].as<bool>());
  role.set_type_owner(r["type_owner"].as<std::string>());
  role.set_create_in_store_schema(!r["create_in_store_schema"].is_null() &&
                                  r["create_in_store_schema"].as<bool>());
  role.set_create_in_type_schema(r["create_in_type_schema"].as<bool>());
  role.set_store_schema(store.schema);
  role.set_type_owner_may_create(r["type_owner_may_create"].as<bool>());
}

void ReadOperatorNames(Tx& tx, StatusPlan& plan) {
  static const std::regex kOperator(R"(:opno (\d+))");
  static const std::regex kFunction(R"(:(?:funcid|aggfnoid|winfnoid) (\d+))");
  std::set<std::string> operators, functions;
  for (const PlanObject& o : plan.objects()) {
    for (const auto& e : o.exprs()) {
      const std::string& tree = e.tree();
      for (auto m = std::sregex_iterator(tree.begin(), tree.end(), kOperator);
           m != std::sregex_iterator(); ++m) {
        operators.insert((*m)[1]);
      }
      for (auto m = std::sregex_iterator(tree.begin(), tree.end(), kFunction);
           m != std::sregex_iterator(); ++m) {
        functions.insert((*m)[1]);
      }
    }
  }
  auto& names = *plan.mutable_types()->mutable_names();
  const auto read = [&](const std::set<std::string>& oids, const char* cast) {
    if (oids.empty()) return;
    for (const pqxx::row& r : tx.Params(absl::StrCat("SELECT x AS oid, x::", cast,
                                                     "::text AS name FROM unnest($1::oid[]) AS x"),
                                        absl::StrCat("{", absl::StrJoin(oids, ","), "}"))) {
      names[r["oid"].as<uint32_t>()] = r["name"].as<std::string>();
    }
  };
  read(operators, "regoperator");
  read(functions, "regprocedure");
}

}  // namespace booking::migrator
