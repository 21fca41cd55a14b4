#include "common/store_schema.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "pqxx/pqxx"

namespace booking {
namespace {

// The tables only each store holds (migrator/schema_steps.cc,
// history_schema_steps.cc, the status change's backup), anchor first.
const std::vector<std::string>& StoreTables(absl::string_view store) {
  static const auto* const booking =
      new std::vector<std::string>{"Booking",
                                   "BookingOutbox",
                                   "BookingOutboxRejected",
                                   "IdempotencyRecord",
                                   "BookingExtension",
                                   "StatusMigration",
                                   "StatusMigrationLog",
                                   "BookingStatusExact",
                                   "StatusMigrationWriter",
                                   "Booking_Status_Migration_Backup"};
  static const auto* const history = new std::vector<std::string>{
      "BookingStatusHistory",          "BookingStatusHeldBack",
      "BookingStatusHeldBackCount",    "HistoryCheckpoint",
      "HistoryCheckpointHead",         "BookingStatusHistoryFeed",
      "BookingStatusHistoryFeedStart", "BookingStatusHistoryFeedQueue",
      "BookingStatusHistoryLeaf",      "BookingStatusHistoryTile",
      "BookingStatusHistoryTree",      "HistoryLogCheckpoint",
      "BookingStatusHistoryEvent",     "BookingStatusHistoryHead",
      "BookingStatusHistoryKeysStart"};
  return store == "booking" ? *booking : *history;
}

bool Has(const std::vector<std::string>& names, absl::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

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

SchemaContents ReadSchemaContents(pqxx::transaction_base& txn) {
  SchemaContents found;
  const pqxx::field schema = txn.exec("SELECT current_schema() AS schema").front()["schema"];
  if (schema.is_null()) return found;
  found.schema = schema.as<std::string>();
  for (const pqxx::row& r : txn.exec_params(
           R"(SELECT c.relname AS name FROM pg_class c
              WHERE c.relnamespace = to_regnamespace(quote_ident($1))
                AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1)",
           found.schema)) {
    found.tables.push_back(r["name"].as<std::string>());
  }
  if (Has(found.tables, "MigrationLedger")) {
    for (const pqxx::row& r :
         txn.exec(R"(SELECT step AS step FROM "MigrationLedger" ORDER BY step)")) {
      found.ledger_steps.push_back(r["step"].as<std::string>());
    }
  }
  return found;
}

std::string StoreAnchor(absl::string_view store) { return StoreTables(store).front(); }

std::string OtherStoreIn(const SchemaContents& found, absl::string_view wanted,
                         const std::vector<std::string>& other_steps) {
  if (Has(found.tables, StoreAnchor(wanted))) return "";
  const absl::string_view other = wanted == "booking" ? "history" : "booking";
  std::vector<std::string> tables, steps;
  for (const std::string& t : StoreTables(other)) {
    if (Has(found.tables, t)) tables.push_back(t);
  }
  for (const std::string& step : found.ledger_steps) {
    if (Has(other_steps, step)) steps.push_back(step);
  }
  if (tables.empty() && steps.empty()) return "";
  std::string what;
  if (!steps.empty()) {
    absl::StrAppend(
        &what, "its ledger has ", steps.front(),
        steps.size() > 1 ? absl::StrCat(" and ", steps.size() - 1, " more step(s)") : "");
  }
  if (!tables.empty()) {
    absl::StrAppend(&what, what.empty() ? "" : "; ", "tables ", QuotedList(tables, 3));
  }
  return absl::StrCat("the ", other, " store (", what, ")");
}

std::vector<std::string> ForeignTables(const SchemaContents& found) {
  std::vector<std::string> foreign;
  for (const std::string& t : found.tables) {
    if (t == "MigrationLedger" || Has(StoreTables("booking"), t) ||
        Has(StoreTables("history"), t)) {
      continue;
    }
    foreign.push_back(t);
  }
  return foreign;
}

std::string QuotedList(const std::vector<std::string>& names, size_t max) {
  std::vector<std::string> quoted;
  for (size_t i = 0; i < names.size() && i < max; ++i) {
    quoted.push_back(absl::StrCat("\"", names[i], "\""));
  }
  std::string list = absl::StrJoin(quoted, ", ");
  if (names.size() > max) absl::StrAppend(&list, " and ", names.size() - max, " more");
  return list;
}

}  // namespace booking
