// Where a store's tables are. Production databases do not always keep them in
// `public`, nor on the connection's search_path: the schema is found (or
// given), never assumed, and every connection then works in it.
#ifndef BOOKING_COMMON_STORE_SCHEMA_H_
#define BOOKING_COMMON_STORE_SCHEMA_H_

#include <string>

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

}  // namespace booking

#endif  // BOOKING_COMMON_STORE_SCHEMA_H_
