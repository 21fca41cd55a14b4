// A history row's content as the store holds it, and its canonical form:
// what an event id's duplicates are compared by and what the row's hash
// covers. Nullable columns stay distinct from empty ones.
#ifndef HISTORY_SERVICE_ROW_CONTENT_H_
#define HISTORY_SERVICE_ROW_CONTENT_H_

#include <cstdint>
#include <optional>
#include <string>

#include "common/pqxx_fwd.h"
#include "pqxx/types.hxx"

namespace booking {

struct RowContent {
  std::string event_id;  // as PostgreSQL prints a uuid
  std::string booking_id;
  int64_t sequence = 0;
  std::optional<std::string> from_status;
  std::string to_status;
  std::optional<std::string> changed_by;
  std::optional<std::string> reason;
  std::optional<std::string> metadata;  // as PostgreSQL prints the jsonb
  int64_t created_micros = 0;           // "createdAt" (UTC), microseconds since 1970
  // "traceParent": carried with the row, not part of its content (neither
  // compared nor hashed): the same event sent again is the same event.
  std::string trace_parent;

  bool operator==(const RowContent& o) const;
  bool operator!=(const RowContent& o) const { return !(*this == o); }
};

// The select list, in RowContent's order, of a table with the history's
// shape ("BookingStatusHistory", "BookingStatusHeldBack"), each column named:
// event_id, booking_id, sequence, from_status, to_status, changed_by,
// reason, metadata, created_micros. Another select list giving a row's
// content names its columns the same.
extern const char kContentColumns[];

// Where a result holds the columns named as in kContentColumns, found by
// name once per result (or for one row) and used for each of its rows.
// Throws pqxx::argument_error naming a column the result lacks.
struct ContentLayout {
  explicit ContentLayout(const pqxx::result& r);
  explicit ContentLayout(const pqxx::row& row);

  pqxx::row_size_type event_id = 0, booking_id = 0, sequence = 0, from_status = 0, to_status = 0,
                      changed_by = 0, reason = 0, metadata = 0, created_micros = 0;
};

// The content of `row`, its columns where `at` says.
RowContent ReadContent(const pqxx::row& row, const ContentLayout& at);
// The same for a row read alone (its columns found for it).
RowContent ReadContent(const pqxx::row& row);

// "bsh1" then each field in order: NULL as "n", a value as "v<bytes>:<value>"
// (numbers in decimal). Reproducible in SQL (the migration chains existing
// rows with it).
std::string Canonical(const RowContent& c);

// 32 bytes: SHA-256 of Canonical(c).
std::string ContentDigest(const RowContent& c);
// 32 bytes: SHA-256 of `previous` (the booking's previous row's hash; 32
// zero bytes for its first row) followed by Canonical(c).
std::string RowHash(const std::string& previous, const RowContent& c);
// The same from the canonical bytes.
std::string HashCanonical(const std::string& previous, const std::string& canonical);
// The previous hash of a booking's first row.
const std::string& FirstPrevious();

std::string Hex(const std::string& bytes);
// Empty optional when `hex` is not hex.
std::optional<std::string> FromHex(const std::string& hex);

// A JSON object with the content's fields (metadata as a string of JSON);
// for jsonb_to_recordset.
std::string ContentJson(const RowContent& c);
// The jsonb_to_recordset column list matching ContentJson, and the select
// list turning it into the values of kContentInsertColumns (createdAt exact to
// the microsecond).
extern const char kContentRecord[];
extern const char kContentValues[];
extern const char kContentInsertColumns[];

}  // namespace booking

#endif  // HISTORY_SERVICE_ROW_CONTENT_H_
