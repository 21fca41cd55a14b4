#include "common/store_schema.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "pqxx/pqxx"

namespace booking {

absl::StatusOr<std::string> LocateSchema(pqxx::transaction_base& txn, absl::string_view table,
                                         absl::string_view wanted) {
  if (!wanted.empty()) {
    pqxx::result r =
        txn.exec_params("SELECT 1 FROM pg_namespace WHERE nspname = $1", std::string(wanted));
    if (r.empty()) {
      return absl::NotFoundError(absl::StrCat("schema \"", wanted, "\" does not exist"));
    }
    return std::string(wanted);
  }
  pqxx::result r = txn.exec_params(
      R"(SELECT n.nspname AS schema FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relname = $1 AND c.relkind IN ('r', 'p')
           AND n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
         ORDER BY 1)",
      std::string(table));
  if (r.empty()) {
    return absl::NotFoundError(absl::StrCat("no table \"", table, "\" in any schema"));
  }
  if (r.size() > 1) {
    std::vector<std::string> schemas;
    for (const pqxx::row& row : r) schemas.push_back(row["schema"].as<std::string>());
    return absl::FailedPreconditionError(
        absl::StrCat("table \"", table, "\" exists in several schemas (",
                     absl::StrJoin(schemas, ", "), "); say which store to use with --schema"));
  }
  return r.front()["schema"].as<std::string>();
}

absl::StatusOr<std::string> CurrentSchema(pqxx::transaction_base& txn) {
  const pqxx::field schema = txn.exec("SELECT current_schema() AS schema").front()["schema"];
  if (schema.is_null()) {
    return absl::NotFoundError(
        "no schema of the connection's search_path exists; say where the store goes with "
        "--schema");
  }
  return schema.as<std::string>();
}

void UseSchema(pqxx::connection& conn, const std::string& schema) {
  pqxx::nontransaction txn(conn);
  txn.exec_params("SELECT set_config('search_path', quote_ident($1), false)", schema);
}

void UseStoreSchema(pqxx::connection& conn, absl::string_view table, absl::string_view wanted) {
  std::string schema;
  {
    pqxx::read_transaction txn(conn);
    absl::StatusOr<std::string> located = LocateSchema(txn, table, wanted);
    if (!located.ok()) return;
    schema = *located;
  }
  UseSchema(conn, schema);
}

}  // namespace booking
