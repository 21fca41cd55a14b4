// Where a store's tables are. Production databases do not always keep them in
// `public`, nor on the connection's search_path: the schema is found (or
// given), never assumed, and every connection then works in it.
#ifndef BOOKING_COMMON_STORE_SCHEMA_H_
#define BOOKING_COMMON_STORE_SCHEMA_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/pqxx_fwd.h"

namespace booking {

// The schema holding table `table` (e.g. "Booking"): `wanted` when given
// (NOT_FOUND when that schema does not exist), else the one schema where the
// table is. NOT_FOUND when it is in none; FAILED_PRECONDITION naming them
// when it is in several.
absl::StatusOr<std::string> LocateSchema(pqxx::transaction_base& txn, absl::string_view table,
                                         absl::string_view wanted);

// The schema new objects would go to on this connection (the first existing
// schema of its search_path); NOT_FOUND when there is none.
absl::StatusOr<std::string> CurrentSchema(pqxx::transaction_base& txn);

// Makes `schema` the connection's search_path (for the session).
void UseSchema(pqxx::connection& conn, const std::string& schema);

// For a pool's connection setup: finds the schema holding `table` (or takes
// `wanted`) and uses it; leaves the search_path alone when the table is not
// there yet (the service then reports its schema missing).
void UseStoreSchema(pqxx::connection& conn, absl::string_view table, absl::string_view wanted);

// What one schema holds, as far as telling the two stores apart goes: its
// tables and the step ids of its "MigrationLedger" (none without one).
struct SchemaContents {
  std::string schema;
  std::vector<std::string> tables;  // sorted
  std::vector<std::string> ledger_steps;
};

// The connection's current schema's contents (schema empty when the
// search_path names no existing schema).
SchemaContents ReadSchemaContents(pqxx::transaction_base& txn);

// The stores by name: "booking" (its anchor table "Booking") and "history"
// ("BookingStatusHistory").
std::string StoreAnchor(absl::string_view store);

// When `found` holds the store other than `wanted` ("booking" or "history")
// and not `wanted` itself: what shows it, e.g. `the booking store (its
// ledger has 0001_booking_base; tables "Booking", "BookingOutbox")`. Its
// tables tell, and ledger steps among `other_steps` (the other store's step
// ids, when the caller knows them). Empty when it does not.
std::string OtherStoreIn(const SchemaContents& found, absl::string_view wanted,
                         const std::vector<std::string>& other_steps);

// The tables of `found` that belong to neither store ("MigrationLedger"
// aside), for refusing to create a store among them.
std::vector<std::string> ForeignTables(const SchemaContents& found);

// Up to `max` names quoted and comma-separated, "and N more" after.
std::string QuotedList(const std::vector<std::string>& names, size_t max);

}  // namespace booking

#endif  // BOOKING_COMMON_STORE_SCHEMA_H_
